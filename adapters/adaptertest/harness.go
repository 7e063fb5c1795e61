package adaptertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// env is one test's view of the backend under test.
type env struct {
	t     *testing.T
	suite Suite
	cfg   herald.Config
}

func newEnv(t *testing.T, s Suite) *env {
	t.Helper()
	cfg, err := herald.ParseURL(s.Target)
	if err != nil {
		t.Fatalf("adaptertest: bad Target: %v", err)
	}
	return &env{t: t, suite: s, cfg: cfg}
}

func (e *env) wait() time.Duration {
	if e.suite.Wait > 0 {
		return e.suite.Wait
	}
	return 30 * time.Second
}

// topic returns a fresh topic name (dots included, as real apps use).
func (e *env) topic(name string) string {
	return "ct." + strings.ToLower(name) + "." + randomID()
}

// group returns a fresh group name.
func (e *env) group(name string) string { return "g-" + name + "-" + randomID() }

func randomID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (e *env) publisher() *publisher.Publisher {
	e.t.Helper()
	p, err := publisher.OpenConfig(context.Background(), e.cfg)
	if err != nil {
		e.t.Fatalf("publisher.OpenConfig(%s): %v", e.cfg, err)
	}
	e.t.Cleanup(func() { _ = p.Close() })
	return p
}

// adapterPublisher opens the adapter's own (Watermill) publisher,
// without the facade; it is closed at cleanup.
func (e *env) adapterPublisher() message.Publisher {
	e.t.Helper()
	p, err := adapters.OpenPublisherConfig(context.Background(), e.cfg)
	if err != nil {
		e.t.Fatalf("adapters.OpenPublisherConfig(%s): %v", e.cfg, err)
	}
	e.t.Cleanup(func() { _ = p.Close() })
	return p
}

// adapterSubscriber opens the adapter's own (Watermill) subscriber for
// cfg, without the facade; it is closed at cleanup.
func (e *env) adapterSubscriber(cfg herald.Config) message.Subscriber {
	e.t.Helper()
	s, err := adapters.OpenSubscriberConfig(context.Background(), cfg)
	if err != nil {
		e.t.Fatalf("adapters.OpenSubscriberConfig(%s): %v", cfg, err)
	}
	e.t.Cleanup(func() { _ = s.Close() })
	return s
}

// subscriber opens a subscriber; group "" is a private subscriber.
func (e *env) subscriber(group string, opts ...subscriber.Option) *subscriber.Subscriber {
	e.t.Helper()
	if group != "" {
		opts = append(opts, subscriber.WithGroup(group))
	}
	s, err := subscriber.OpenConfig(context.Background(), e.cfg, opts...)
	if err != nil {
		e.t.Fatalf("subscriber.OpenConfig(%s): %v", e.cfg, err)
	}
	e.t.Cleanup(func() { _ = s.Close() })
	return s
}

// running is a Subscribe call in the background.
type running struct {
	cancel context.CancelFunc
	done   chan error
}

// stop cancels the Subscribe call and waits for it to return.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Subscribe returned %v after its ctx was cancelled; want nil", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Subscribe did not return within 60s of its ctx being cancelled")
	}
}

// subscribe starts sub.Subscribe(topic, h) in the background and waits
// until the subscription is ready (see subscriber.WithReady).
func (e *env) subscribe(sub *subscriber.Subscriber, ready <-chan string, topic string, h herald.Handler) *running {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- sub.Subscribe(ctx, topic, h) }()
	select {
	case <-ready:
	case err := <-r.done:
		cancel()
		e.t.Fatalf("Subscribe(%q) returned before it was ready: %v", topic, err)
	case <-time.After(e.wait()):
		cancel()
		e.t.Fatalf("Subscribe(%q) not ready within %v", topic, e.wait())
	}
	e.t.Cleanup(cancel)
	return r
}

// readyOption returns a WithReady option and the channel it signals.
func readyOption() (subscriber.Option, chan string) {
	ch := make(chan string, 64)
	return subscriber.WithReady(func(topic string) { ch <- topic }), ch
}

// received records what a handler saw.
type received struct {
	ID       string
	Payload  []byte
	Metadata map[string]string
}

// collector records deliveries and signals waiters.
type collector struct {
	mu     sync.Mutex
	byID   map[string]int
	order  []received
	notify chan struct{}
}

func newCollector() *collector {
	return &collector{byID: map[string]int{}, notify: make(chan struct{}, 1)}
}

func (c *collector) add(m *herald.Message) {
	md := map[string]string{}
	for k, v := range m.Metadata {
		md[k] = v
	}
	c.mu.Lock()
	c.byID[m.UUID]++
	c.order = append(c.order, received{ID: m.UUID, Payload: append([]byte(nil), m.Payload...), Metadata: md})
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// handler records every message and acks it.
func (c *collector) handler(_ context.Context, m *herald.Message) error {
	c.add(m)
	return nil
}

func (c *collector) distinct() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byID)
}

func (c *collector) deliveries() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.order)
}

func (c *collector) has(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byID[id] > 0
}

func (c *collector) snapshot() []received {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]received(nil), c.order...)
}

// waitUntil waits until cond holds, checking after every delivery.
func (c *collector) waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-c.notify:
		case <-deadline.C:
			if !cond() {
				t.Fatalf("timed out after %v waiting for %s (distinct %d, deliveries %d)", d, what, c.distinct(), c.deliveries())
			}
			return
		}
	}
}

// waitIDs waits until every id was delivered at least once.
func (c *collector) waitIDs(t *testing.T, d time.Duration, ids []string) {
	t.Helper()
	c.waitUntil(t, d, "all published messages", func() bool {
		for _, id := range ids {
			if !c.has(id) {
				return false
			}
		}
		return true
	})
}

// publishN publishes n messages with payload "<prefix>-<i>" and returns
// their IDs in order.
func publishN(t *testing.T, p herald.Publisher, topic string, n int, prefix string) []string {
	t.Helper()
	ids := make([]string, n)
	for i := 0; i < n; i++ {
		m := herald.NewMessage([]byte(prefix + "-" + strconv.Itoa(i)))
		ids[i] = m.UUID
		if err := p.Publish(context.Background(), topic, m); err != nil {
			t.Fatalf("Publish %d to %q: %v", i, topic, err)
		}
	}
	return ids
}

var errTest = errors.New("adaptertest: deliberate handler failure")
