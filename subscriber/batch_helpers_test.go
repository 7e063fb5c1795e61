package subscriber_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters/adaptertest"
	_ "github.com/heraldkit/herald/adapters/all"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// eachBatchBackend runs fn on every backend, in parallel (adaptertest.EachBackend).
func eachBatchBackend(t *testing.T, fn func(t *testing.T, target string)) {
	adaptertest.EachBackend(t, "batch", fn)
}

// batchWait bounds every wait for a message in these tests.
const batchWait = 60 * time.Second

func uniqName(prefix string) string { return adaptertest.UniqueName(prefix) }

func openBatchPub(t *testing.T, target string) *publisher.Publisher {
	t.Helper()
	p, err := publisher.Open(context.Background(), target)
	if err != nil {
		t.Fatalf("publisher.Open(%s): %v", target, err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// running is a SubscribeBatch (or Subscribe) call in the background.
type running struct {
	sub  *subscriber.Subscriber
	done chan error
	once sync.Once
}

// close closes the subscriber (draining) and waits for the call to
// return.
func (r *running) close(t *testing.T) {
	t.Helper()
	r.once.Do(func() {
		if err := r.sub.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("SubscribeBatch returned %v after Close", err)
			}
		case <-time.After(batchWait):
			t.Errorf("SubscribeBatch did not return after Close")
		}
	})
}

// startBatch runs SubscribeBatch(topic, h) for a new subscriber of group
// and returns once the subscription is ready; it is closed at cleanup.
func startBatch(t *testing.T, target, group, topic string, h herald.BatchHandler, bopts []subscriber.BatchOption, opts ...subscriber.Option) *running {
	t.Helper()
	ready := make(chan struct{}, 1)
	opts = append(opts, subscriber.WithGroup(group), subscriber.WithReady(func(string) { ready <- struct{}{} }),
		subscriber.WithDrainTimeout(10*time.Second))
	sub, err := subscriber.Open(context.Background(), target, opts...)
	if err != nil {
		t.Fatalf("subscriber.Open(%s): %v", target, err)
	}
	r := &running{sub: sub, done: make(chan error, 1)}
	go func() { r.done <- sub.SubscribeBatch(context.Background(), topic, h, bopts...) }()
	t.Cleanup(func() { r.close(t) })
	select {
	case <-ready:
	case err := <-r.done:
		t.Fatalf("SubscribeBatch(%q) returned before it was ready: %v", topic, err)
	case <-time.After(batchWait):
		t.Fatalf("SubscribeBatch(%q) not ready after %v", topic, batchWait)
	}
	return r
}

// startSingle runs Subscribe(topic, h) like startBatch.
func startSingle(t *testing.T, target, group, topic string, h herald.Handler) *running {
	t.Helper()
	ready := make(chan struct{}, 1)
	sub, err := subscriber.Open(context.Background(), target, subscriber.WithGroup(group),
		subscriber.WithReady(func(string) { ready <- struct{}{} }), subscriber.WithDrainTimeout(10*time.Second))
	if err != nil {
		t.Fatalf("subscriber.Open(%s): %v", target, err)
	}
	r := &running{sub: sub, done: make(chan error, 1)}
	go func() { r.done <- sub.Subscribe(context.Background(), topic, h) }()
	t.Cleanup(func() { r.close(t) })
	select {
	case <-ready:
	case err := <-r.done:
		t.Fatalf("Subscribe(%q) returned before it was ready: %v", topic, err)
	case <-time.After(batchWait):
		t.Fatalf("Subscribe(%q) not ready after %v", topic, batchWait)
	}
	return r
}

// handled records what a batch handler saw: each batch's payloads and
// attempts, and signals every batch.
type handled struct {
	mu      sync.Mutex
	batches [][]seen
	at      []time.Time
	notify  chan struct{}
}

type seen struct {
	payload string
	id      string
	attempt int
}

func newHandled() *handled { return &handled{notify: make(chan struct{}, 1)} }

func (h *handled) record(b *herald.Batch) {
	var s []seen
	for _, m := range b.Messages {
		d, _ := herald.DeliveryFromContext(m.Context())
		s = append(s, seen{payload: string(m.Payload), id: m.UUID, attempt: d.Attempt})
	}
	h.mu.Lock()
	h.batches = append(h.batches, s)
	h.at = append(h.at, time.Now())
	h.mu.Unlock()
	select {
	case h.notify <- struct{}{}:
	default:
	}
}

func (h *handled) snapshot() ([][]seen, []time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([][]seen(nil), h.batches...), append([]time.Time(nil), h.at...)
}

// total is the number of messages handled.
func total(bs [][]seen) int {
	n := 0
	for _, b := range bs {
		n += len(b)
	}
	return n
}

// wait waits until cond holds on the batches handled.
func (h *handled) wait(t *testing.T, what string, cond func([][]seen) bool) [][]seen {
	t.Helper()
	deadline := time.NewTimer(batchWait)
	defer deadline.Stop()
	for {
		if bs, _ := h.snapshot(); cond(bs) {
			return bs
		}
		select {
		case <-h.notify:
		case <-deadline.C:
			bs, _ := h.snapshot()
			t.Fatalf("timed out after %v waiting for %s (handled %v)", batchWait, what, bs)
		}
	}
}

// payloadMsgs makes one message per payload, with key when it is not "".
func payloadMsgs(key string, payloads ...string) []*herald.Message {
	msgs := make([]*herald.Message, len(payloads))
	for i, p := range payloads {
		msgs[i] = herald.NewMessage([]byte(p))
		if key != "" {
			herald.SetKey(msgs[i], key)
		}
	}
	return msgs
}

// onlySentinel checks that a fresh subscriber of group receives, up to
// and including a sentinel published now, nothing but the sentinel: the
// messages settled before were acked (or committed), not left for
// redelivery.
func onlySentinel(t *testing.T, target, group, topic string, pub *publisher.Publisher) {
	t.Helper()
	got := make(chan string, 64)
	startSingle(t, target, group, topic, func(_ context.Context, m *herald.Message) error {
		got <- string(m.Payload)
		return nil
	})
	if err := pub.Publish(context.Background(), topic, herald.NewMessage([]byte("sentinel"))); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case p := <-got:
			if p == "sentinel" {
				return
			}
			t.Errorf("redelivered after it was settled: %q", p)
		case <-time.After(batchWait):
			t.Fatal("sentinel not delivered")
		}
	}
}
