package adaptertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// env is one end-to-end test's view of the backend under test: the
// Target's configuration for publisher.OpenConfig and
// subscriber.OpenConfig, and what its driver declares.
type env struct {
	t     *testing.T
	suite Suite
	names *made         // the topics and groups the test named, for Suite.Cleanup
	cfg   herald.Config // the Target as parsed, common options included
	caps  adapters.Capabilities
}

func newEnv(t *testing.T, s Suite) *env {
	t.Helper()
	names := track(t, s)
	b := resolve(t, s.Target)
	return &env{t: t, suite: s, names: names, cfg: b.full, caps: b.caps}
}

// in returns e for the subtest t (helpers fail and clean up on t).
func (e *env) in(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

func (e *env) wait() time.Duration { return e.suite.wait() }

// topic returns a fresh topic name.
func (e *env) topic(name string) string { return e.names.topic(name) }

// group returns a fresh group name.
func (e *env) group(name string) string { return e.names.group(name) }

// topicName returns a fresh topic name (dots included, as real apps use).
func topicName(name string) string {
	return "ct." + strings.ToLower(name) + "." + randomID()
}

// groupName returns a fresh group name.
func groupName(name string) string { return "g-" + name + "-" + randomID() }

func randomID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// publisher opens a publisher; it is closed at cleanup.
func (e *env) publisher() *publisher.Publisher {
	e.t.Helper()
	p, err := publisher.OpenConfig(context.Background(), e.cfg)
	if err != nil {
		e.t.Fatalf("publisher.OpenConfig(%s): %v", e.cfg, err)
	}
	e.t.Cleanup(func() { _ = p.Close() })
	return p
}

// subscriber opens a subscriber; group "" is a private subscriber. It is
// closed at cleanup.
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

// publishN publishes n messages with payload "<prefix>-<i>" and returns
// their IDs in order.
func publishN(t *testing.T, p *publisher.Publisher, topic string, n int, prefix string) []string {
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
