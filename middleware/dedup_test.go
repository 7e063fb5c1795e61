package middleware_test

import (
	"context"
	"errors"
	"testing"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/middleware"
)

func TestDeduplicateSkipsProcessedMessages(t *testing.T) {
	c := &counter{failN: 1, err: errBoom}
	var events []middleware.Event
	h := chain(c.handle, middleware.Observe(middleware.ObserverFunc(func(_ context.Context, e middleware.Event) { events = append(events, e) })),
		middleware.Deduplicate())
	ctx := deliveryCtx("t", "")
	msg := herald.NewMessage(nil)
	if err := h.Handle(ctx, msg); !errors.Is(err, errBoom) {
		t.Fatalf("first delivery: %v; want errBoom", err)
	}
	if err := h.Handle(ctx, msg); err != nil { // a failure is not remembered
		t.Fatalf("redelivery after failure: %v", err)
	}
	if err := h.Handle(ctx, msg.Copy()); err != nil { // duplicate: acked
		t.Fatalf("duplicate: %v", err)
	}
	if got := c.calls.Load(); got != 2 {
		t.Fatalf("handler called %d times; want 2 (the duplicate skipped)", got)
	}
	if len(events) != 1 || events[0].Kind != middleware.EventDuplicate || events[0].MessageID != msg.UUID {
		t.Fatalf("events = %+v; want one duplicate", events)
	}
	if err := h.Handle(ctx, herald.NewMessage(nil)); err != nil || c.calls.Load() != 3 {
		t.Fatalf("a new message was not handled")
	}
}

func TestDeduplicateIsBounded(t *testing.T) {
	c := &counter{}
	h := chain(c.handle, middleware.Deduplicate(middleware.DedupSize(2)))
	ctx := deliveryCtx("t", "")
	a, b, d := herald.NewMessage(nil), herald.NewMessage(nil), herald.NewMessage(nil)
	for _, m := range []*herald.Message{a, b, d, a} { // a evicted by d
		_ = h.Handle(ctx, m)
	}
	if got := c.calls.Load(); got != 4 {
		t.Fatalf("handler called %d times; want 4 (a was forgotten)", got)
	}
}

func TestDeduplicateInFlight(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	h := chain(func(context.Context, *herald.Message) error {
		close(entered)
		<-release
		return nil
	}, middleware.Deduplicate())
	ctx := deliveryCtx("t", "")
	m := herald.NewMessage(nil)
	done := make(chan error, 1)
	go func() { done <- h.Handle(ctx, m) }()
	<-entered
	err := h.Handle(ctx, m.Copy())
	if d, ok := herald.RetryDelay(err); !errors.Is(err, middleware.ErrDuplicateInFlight) || !ok || d != middleware.DedupInFlightDelay {
		t.Fatalf("concurrent duplicate: %v; want ErrDuplicateInFlight with a redelivery delay", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestDeduplicateKey(t *testing.T) {
	c := &counter{}
	h := chain(c.handle, middleware.Deduplicate(middleware.DedupKey(func(m *herald.Message) string { return m.Metadata.Get("k") })))
	ctx := deliveryCtx("t", "")
	a, b, none := herald.NewMessage(nil), herald.NewMessage(nil), herald.NewMessage(nil)
	a.Metadata.Set("k", "same")
	b.Metadata.Set("k", "same")
	for _, m := range []*herald.Message{a, b, none, none} {
		_ = h.Handle(ctx, m)
	}
	if got := c.calls.Load(); got != 3 {
		t.Fatalf("handler called %d times; want 3 (b duplicates a; keyless messages always handled)", got)
	}
}
