package sdktest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters/adaptertest"
	_ "github.com/heraldkit/herald/adapters/all"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// The helpers below are copies of package middleware's test helpers (this
// module cannot import another package's test files).

var errBoom = errors.New("boom: deliberate failure")

// deliveryCtx is a handler ctx as the subscriber makes it.
func deliveryCtx(topic, group string) context.Context {
	return herald.ContextWithDelivery(context.Background(), herald.Delivery{Backend: "mem", Topic: topic, Group: group})
}

// fakePub records published messages; it fails while fail > 0
// (decrementing it).
type fakePub struct {
	mu   sync.Mutex
	fail int
	sent []*herald.Message
}

func (p *fakePub) Publish(_ context.Context, _ string, msgs ...*herald.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail > 0 {
		p.fail--
		return errors.New("fake publisher: deliberate publish failure")
	}
	p.sent = append(p.sent, msgs...)
	return nil
}

func (p *fakePub) Close() error { return nil }

// chain wraps h in mws.
func chain(h herald.Handler, mws ...herald.Middleware) herald.Handler {
	return herald.Chain(h, mws...)
}

// eachBackend runs fn on every backend, in parallel (adaptertest.EachBackend).
func eachBackend(t *testing.T, fn func(t *testing.T, target string)) {
	adaptertest.EachBackend(t, "otel", fn)
}

// waitFor bounds every wait for a message or a span.
const waitFor = 60 * time.Second

func uniq(prefix string) string { return adaptertest.UniqueName(prefix) }

func openPub(t *testing.T, target string, mws ...herald.PublishMiddleware) *publisher.Publisher {
	t.Helper()
	p, err := publisher.Open(context.Background(), target, publisher.WithMiddleware(mws...))
	if err != nil {
		t.Fatalf("publisher.Open(%s): %v", target, err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// startSub runs Subscribe(topic, h) for a new subscriber in group in the
// background, returns once the subscription is ready and stops it at
// cleanup.
func startSub(t *testing.T, target, group, topic string, h herald.Handler, opts ...subscriber.Option) {
	t.Helper()
	ready := make(chan struct{}, 1)
	opts = append(opts, subscriber.WithGroup(group), subscriber.WithReady(func(string) { ready <- struct{}{} }),
		subscriber.WithDrainTimeout(5*time.Second))
	sub, err := subscriber.Open(context.Background(), target, opts...)
	if err != nil {
		t.Fatalf("subscriber.Open(%s): %v", target, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sub.Subscribe(ctx, topic, h) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(waitFor):
			t.Errorf("Subscribe(%q) did not return after cancel", topic)
		}
		_ = sub.Close()
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Subscribe(%q) returned before it was ready: %v", topic, err)
	case <-time.After(waitFor):
		t.Fatalf("Subscribe(%q) not ready after %v", topic, waitFor)
	}
}

// inbox collects messages and lets tests wait for them.
type inbox struct {
	mu     sync.Mutex
	msgs   []*herald.Message
	notify chan struct{}
}

func newInbox() *inbox { return &inbox{notify: make(chan struct{}, 1)} }

func (b *inbox) handler(_ context.Context, m *herald.Message) error {
	b.mu.Lock()
	b.msgs = append(b.msgs, m)
	b.mu.Unlock()
	select {
	case b.notify <- struct{}{}:
	default:
	}
	return nil
}

func (b *inbox) snapshot() []*herald.Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*herald.Message(nil), b.msgs...)
}

// wait waits until cond holds on the messages received, checking after
// each one.
func (b *inbox) wait(t *testing.T, what string, cond func([]*herald.Message) bool) []*herald.Message {
	t.Helper()
	deadline := time.NewTimer(waitFor)
	defer deadline.Stop()
	for {
		if msgs := b.snapshot(); cond(msgs) {
			return msgs
		}
		select {
		case <-b.notify:
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s (received %d)", waitFor, what, len(b.snapshot()))
		}
	}
}

// spanSignal is a span processor that records spans and signals each
// ended span.
type spanSignal struct {
	*tracetest.SpanRecorder
	ended chan struct{}
}

func newSpanSignal() (*spanSignal, *sdktrace.TracerProvider) {
	s := &spanSignal{SpanRecorder: tracetest.NewSpanRecorder(), ended: make(chan struct{}, 1)}
	return s, sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(s))
}

func (s *spanSignal) OnEnd(span sdktrace.ReadOnlySpan) {
	s.SpanRecorder.OnEnd(span)
	select {
	case s.ended <- struct{}{}:
	default:
	}
}

// waitSpan waits until a span for which match is true has ended, and
// returns it.
func (s *spanSignal) waitSpan(t *testing.T, what string, match func(sdktrace.ReadOnlySpan) bool) sdktrace.ReadOnlySpan {
	t.Helper()
	timeout := time.After(waitFor)
	for {
		for _, sp := range s.Ended() {
			if match(sp) {
				return sp
			}
		}
		select {
		case <-s.ended:
		case <-timeout:
			t.Fatalf("%s: no such span ended after %v", what, waitFor)
		}
	}
}

// named matches the spans called name.
func named(name string) func(sdktrace.ReadOnlySpan) bool {
	return func(sp sdktrace.ReadOnlySpan) bool { return sp.Name() == name }
}
