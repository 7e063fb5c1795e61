package middleware_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/middleware"
)

func poison() *herald.Message {
	m := herald.NewMessage([]byte(`{"order":1234}`))
	herald.SetKey(m, "order-1234")
	m.Metadata.Set("app-header", "kept")
	return m
}

func TestDeadLetterAfterRetries(t *testing.T) {
	pub := &fakePub{}
	c := &counter{failN: 100, err: errBoom}
	var events []middleware.Event
	h := chain(c.handle,
		middleware.DeadLetter(pub, "orders.dlq", middleware.OnDeadLetter(func(_ context.Context, e middleware.Event) { events = append(events, e) })),
		middleware.Retry(middleware.MaxAttempts(3), middleware.InitialDelay(time.Millisecond)))
	before := time.Now().UTC()
	msg := poison()
	if err := h.Handle(deliveryCtx("orders", "billing"), msg); err != nil {
		t.Fatalf("Handle = %v; want nil (dead-lettered, acked)", err)
	}
	if got := c.calls.Load(); got != 3 {
		t.Fatalf("handler called %d times; want 3", got)
	}
	out := pub.messages()
	if len(out) != 1 || out[0].topic != "orders.dlq" {
		t.Fatalf("published %+v; want one message to orders.dlq", out)
	}
	dl := out[0].msg
	if dl == msg {
		t.Fatal("the original message was published; want a copy")
	}
	checkDLQ(t, dl, msg, "orders", "3", middleware.DLQReasonExhausted, errBoom.Error(), before)
	if dl.Metadata.Get(middleware.DLQGroupHeader) != "billing" || dl.Metadata.Get(middleware.DLQBackendHeader) != "mem" {
		t.Errorf("group/backend headers = %q/%q", dl.Metadata.Get(middleware.DLQGroupHeader), dl.Metadata.Get(middleware.DLQBackendHeader))
	}
	if len(events) != 1 || events[0].Kind != middleware.EventDeadLetter || events[0].Attempt != 3 || events[0].DeadLetterTopic != "orders.dlq" {
		t.Errorf("OnDeadLetter events = %+v", events)
	}
}

// checkDLQ checks a dead-lettered copy against the original.
func checkDLQ(t *testing.T, dl, orig *herald.Message, topic, attempts, reason, errText string, before time.Time) {
	t.Helper()
	if string(dl.Payload) != string(orig.Payload) || herald.Key(dl) != herald.Key(orig) || dl.Metadata.Get("app-header") != orig.Metadata.Get("app-header") {
		t.Errorf("dead-lettered copy differs: payload %q key %q app-header %q", dl.Payload, herald.Key(dl), dl.Metadata.Get("app-header"))
	}
	// The copy has its own identity (a backend that deduplicates by ID, such
	// as JetStream, would drop it otherwise) and names the original.
	if dl.UUID == "" || dl.UUID == orig.UUID {
		t.Errorf("dead-lettered copy has ID %q; want a new ID, not the original's %q", dl.UUID, orig.UUID)
	}
	if got := dl.Metadata.Get(middleware.DLQOriginalIDHeader); got != orig.UUID {
		t.Errorf("%s = %q; want the original ID %q", middleware.DLQOriginalIDHeader, got, orig.UUID)
	}
	for h, want := range map[string]string{
		middleware.DLQTopicHeader:    topic,
		middleware.DLQAttemptsHeader: attempts,
		middleware.DLQReasonHeader:   reason,
	} {
		if got := dl.Metadata.Get(h); got != want {
			t.Errorf("%s = %q; want %q", h, got, want)
		}
	}
	if got := dl.Metadata.Get(middleware.DLQErrorHeader); !strings.Contains(got, errText) {
		t.Errorf("%s = %q; want it to contain %q", middleware.DLQErrorHeader, got, errText)
	}
	first, err1 := time.Parse(time.RFC3339Nano, dl.Metadata.Get(middleware.DLQFirstFailureHeader))
	at, err2 := time.Parse(time.RFC3339Nano, dl.Metadata.Get(middleware.DLQTimeHeader))
	if err1 != nil || err2 != nil {
		t.Fatalf("timestamps are not RFC 3339: %v, %v", err1, err2)
	}
	if first.Before(before.Add(-time.Second)) || at.Before(first) || time.Since(at) > time.Minute {
		t.Errorf("timestamps: first failure %v, dead-lettered %v (test started %v)", first, at, before)
	}
}

func TestDeadLetterPermanentAtOnce(t *testing.T) {
	pub := &fakePub{}
	c := &counter{failN: 100, err: herald.Permanent(errBoom)}
	h := chain(c.handle, middleware.DeadLetter(pub, "{topic}.dlq"), middleware.Retry(middleware.InitialDelay(time.Millisecond)))
	msg := poison()
	if err := h.Handle(deliveryCtx("orders", ""), msg); err != nil {
		t.Fatal(err)
	}
	out := pub.messages()
	if c.calls.Load() != 1 || len(out) != 1 || out[0].topic != "orders.dlq" {
		t.Fatalf("calls %d, published %d to %v; want 1 call, 1 message to orders.dlq", c.calls.Load(), len(out), out)
	}
	checkDLQ(t, out[0].msg, msg, "orders", "1", middleware.DLQReasonPermanent, errBoom.Error(), time.Now().Add(-time.Minute))
}

func TestDeadLetterWithoutRetry(t *testing.T) {
	pub := &fakePub{}
	c := &counter{failN: 100, err: errBoom}
	h := chain(c.handle, middleware.DeadLetter(pub, "dlq"))
	if err := h.Handle(deliveryCtx("orders", ""), poison()); err != nil {
		t.Fatal(err)
	}
	if out := pub.messages(); len(out) != 1 || out[0].msg.Metadata.Get(middleware.DLQReasonHeader) != middleware.DLQReasonFailed || out[0].msg.Metadata.Get(middleware.DLQAttemptsHeader) != "1" {
		t.Fatalf("published %+v; want one message, reason failed, 1 attempt", out)
	}
}

func TestDeadLetterPublishFailureNacks(t *testing.T) {
	pubErr := errors.New("broker down")
	pub := &fakePub{fail: 1, err: pubErr}
	c := &counter{failN: 100, err: herald.Permanent(errBoom)}
	h := chain(c.handle, middleware.DeadLetter(pub, "dlq"))
	err := h.Handle(deliveryCtx("orders", ""), poison())
	if err == nil || !errors.Is(err, middleware.ErrDeadLetterFailed) || !errors.Is(err, pubErr) || !errors.Is(err, errBoom) {
		t.Fatalf("Handle = %v; want an error wrapping ErrDeadLetterFailed, the publish error and the handler error", err)
	}
	if _, ok := herald.RetryDelay(err); ok {
		t.Errorf("error asks for a delay; want a plain nack")
	}
	// The redelivery is dead-lettered once the publisher recovers.
	if err := h.Handle(deliveryCtx("orders", ""), poison()); err != nil || len(pub.messages()) != 1 {
		t.Fatalf("second delivery: %v, %d published", err, len(pub.messages()))
	}
}

func TestDeadLetterLeavesScheduledRedeliveries(t *testing.T) {
	pub := &fakePub{}
	c := &counter{failN: 100, err: errBoom}
	h := chain(c.handle, middleware.DeadLetter(pub, "dlq"),
		middleware.Retry(middleware.Redelivery(), middleware.MaxAttempts(3), middleware.InitialDelay(time.Millisecond)))
	msg := poison()
	ctx := deliveryCtx("orders", "")
	for i := 1; i <= 2; i++ {
		err := h.Handle(ctx, msg)
		if _, ok := herald.RetryDelay(err); !ok {
			t.Fatalf("delivery %d: Handle = %v; want a scheduled redelivery", i, err)
		}
		if len(pub.messages()) != 0 {
			t.Fatalf("delivery %d dead-lettered a message with a scheduled redelivery", i)
		}
	}
	if err := h.Handle(ctx, msg); err != nil {
		t.Fatalf("delivery 3: Handle = %v; want nil (dead-lettered)", err)
	}
	out := pub.messages()
	if len(out) != 1 {
		t.Fatalf("published %d; want 1", len(out))
	}
	checkDLQ(t, out[0].msg, msg, "orders", "3", middleware.DLQReasonExhausted, errBoom.Error(), time.Now().Add(-time.Minute))
}

func TestDeadLetterNotWhileStopping(t *testing.T) {
	pub := &fakePub{}
	ctx, cancel := context.WithCancel(deliveryCtx("orders", ""))
	h := chain(func(context.Context, *herald.Message) error { cancel(); return errBoom }, middleware.DeadLetter(pub, "dlq"))
	if err := h.Handle(ctx, poison()); !errors.Is(err, errBoom) {
		t.Fatalf("Handle = %v; want the handler's error (nack)", err)
	}
	if len(pub.messages()) != 0 {
		t.Fatal("dead-lettered while ctx was done")
	}
}

func TestDeadLetterNotConfigured(t *testing.T) {
	h := chain(func(context.Context, *herald.Message) error { return errBoom }, middleware.DeadLetter(nil, "dlq"))
	if err := h.Handle(deliveryCtx("t", ""), poison()); !errors.Is(err, middleware.ErrDeadLetterNotConfigured) || !errors.Is(err, errBoom) {
		t.Fatalf("Handle = %v; want ErrDeadLetterNotConfigured wrapping the handler error", err)
	}
}

func TestDeadLetterTruncatesError(t *testing.T) {
	pub := &fakePub{}
	long := errors.New(strings.Repeat("x", 5000))
	h := chain(func(context.Context, *herald.Message) error { return herald.Permanent(long) }, middleware.DeadLetter(pub, "dlq", middleware.DeadLetterMaxErrorLen(100)))
	if err := h.Handle(deliveryCtx("t", ""), poison()); err != nil {
		t.Fatal(err)
	}
	if got := pub.messages()[0].msg.Metadata.Get(middleware.DLQErrorHeader); len(got) > 100 || !strings.HasSuffix(got, "…") {
		t.Fatalf("error header has %d bytes (%q...); want <= 100 ending in …", len(got), got[:min(len(got), 20)])
	}
}
