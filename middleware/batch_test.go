package middleware_test

import (
	"context"
	"errors"
	"testing"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/middleware"
)

// batchOf returns a batch of n messages, each with its Delivery (attempt
// 2) in its context, as the subscriber makes them.
func batchOf(ctx context.Context, n int) *herald.Batch {
	msgs := make([]*herald.Message, n)
	for i := range msgs {
		msgs[i] = herald.NewMessage([]byte{byte('a' + i)})
		herald.SetKey(msgs[i], "k")
		d, _ := herald.DeliveryFromContext(ctx)
		d.Attempt = 2
		msgs[i].SetContext(herald.ContextWithDelivery(ctx, d))
	}
	return herald.NewBatch(msgs)
}

// BatchDeadLetter publishes the dead-lettered messages of a batch in one
// call, in DeadLetter's format, and marks them dead-lettered; the others
// keep their results.
func TestBatchDeadLetterFormat(t *testing.T) {
	ctx := deliveryCtx("orders", "billing")
	pub := &fakePub{}
	var events []middleware.Event
	h := herald.ChainBatch(func(_ context.Context, b *herald.Batch) error {
		b.DeadLetter(0, herald.Permanent(errors.New("bad payload")))
		b.Retry(1, errBoom)
		b.DeadLetter(3, errors.New("gave up"))
		return nil
	}, middleware.BatchDeadLetter(pub, "{topic}.dlq", middleware.OnDeadLetter(func(_ context.Context, e middleware.Event) { events = append(events, e) })))
	b := batchOf(ctx, 4)
	if err := h(ctx, b); err != nil {
		t.Fatal(err)
	}
	if n := pub.calls.Load(); n != 1 {
		t.Errorf("%d publish calls, want 1 for the batch", n)
	}
	got := pub.messages()
	if len(got) != 2 {
		t.Fatalf("%d copies published, want 2", len(got))
	}
	for k, c := range []struct {
		i      int
		reason string
		errTxt string
	}{{0, middleware.DLQReasonPermanent, "bad payload"}, {3, middleware.DLQReasonFailed, "gave up"}} {
		m, orig := got[k].msg, b.Messages[c.i]
		if got[k].topic != "orders.dlq" || m.UUID == orig.UUID || string(m.Payload) != string(orig.Payload) || herald.Key(m) != "k" {
			t.Errorf("copy %d: topic %q id %s payload %q key %q; want orders.dlq, a new ID, the payload and key", k, got[k].topic, m.UUID, m.Payload, herald.Key(m))
		}
		for h, v := range map[string]string{
			middleware.DLQOriginalIDHeader: orig.UUID, middleware.DLQTopicHeader: "orders", middleware.DLQGroupHeader: "billing",
			middleware.DLQBackendHeader: "mem", middleware.DLQReasonHeader: c.reason, middleware.DLQAttemptsHeader: "2", middleware.DLQErrorHeader: c.errTxt,
		} {
			if m.Metadata.Get(h) != v {
				t.Errorf("copy %d: %s = %q, want %q", k, h, m.Metadata.Get(h), v)
			}
		}
		if m.Metadata.Get(middleware.DLQTimeHeader) == "" || m.Metadata.Get(middleware.DLQFirstFailureHeader) == "" {
			t.Errorf("copy %d lacks the time headers", k)
		}
		if r := b.Result(c.i); r.Outcome != herald.OutcomeDeadLettered || r.DeadLetterTopic != "orders.dlq" {
			t.Errorf("message %d: %v to %q, want dead_lettered to orders.dlq", c.i, r.Outcome, r.DeadLetterTopic)
		}
	}
	if b.Result(1).Outcome != herald.OutcomeRetry || b.Result(2).Outcome != herald.OutcomeAck {
		t.Errorf("the others: %v %v, want retry ack", b.Result(1).Outcome, b.Result(2).Outcome)
	}
	if len(events) != 2 || events[0].Kind != middleware.EventDeadLetter || events[0].MessageID != b.Messages[0].UUID {
		t.Errorf("OnDeadLetter events %+v, want two, the first for message 0", events)
	}
}

// A failed dead-letter publish, or none configured, leaves the messages
// for redelivery with an error saying so: nothing is dropped.
func TestBatchDeadLetterFailureRetries(t *testing.T) {
	ctx := deliveryCtx("orders", "")
	mark := func(_ context.Context, b *herald.Batch) error { b.DeadLetter(1, errBoom); return nil }
	for _, c := range []struct {
		name string
		mw   herald.BatchMiddleware
		want error
	}{
		{"publish fails", middleware.BatchDeadLetter(&fakePub{fail: 1}, "dlq"), middleware.ErrDeadLetterFailed},
		{"no publisher", middleware.BatchDeadLetter(nil, "dlq"), middleware.ErrDeadLetterNotConfigured},
		{"no topic", middleware.BatchDeadLetter(&fakePub{}, ""), middleware.ErrDeadLetterNotConfigured},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := batchOf(ctx, 2)
			if err := herald.ChainBatch(mark, c.mw)(ctx, b); err != nil {
				t.Fatal(err)
			}
			r := b.Result(1)
			if r.Outcome != herald.OutcomeRetry || !errors.Is(r.Err, c.want) || !errors.Is(r.Err, errBoom) {
				t.Errorf("result %v %v, want retry wrapping %v and the handler's error", r.Outcome, r.Err, c.want)
			}
		})
	}
	// A handler error passes through untouched (the subscriber retries the batch).
	b := batchOf(ctx, 1)
	pub := &fakePub{}
	err := herald.ChainBatch(func(_ context.Context, b *herald.Batch) error { b.DeadLetter(0, errBoom); return errBoom },
		middleware.BatchDeadLetter(pub, "dlq"))(ctx, b)
	if !errors.Is(err, errBoom) || pub.calls.Load() != 0 {
		t.Errorf("handler error: %v with %d publishes, want errBoom and none", err, pub.calls.Load())
	}
}

// BatchRecover turns a panic into a *herald.PanicError, permanent when
// the panic value is a permanent error.
func TestBatchRecover(t *testing.T) {
	ctx := deliveryCtx("t", "")
	for _, c := range []struct {
		value     any
		permanent bool
	}{{"boom", false}, {herald.Permanent(errBoom), true}} {
		err := herald.ChainBatch(func(context.Context, *herald.Batch) error { panic(c.value) }, middleware.BatchRecover())(ctx, batchOf(ctx, 1))
		var pe *herald.PanicError
		if !errors.As(err, &pe) || pe.Value != c.value || len(pe.Stack) == 0 || herald.IsPermanent(err) != c.permanent {
			t.Errorf("panic(%v): %v, want a *herald.PanicError (permanent %v) with the value and a stack", c.value, err, c.permanent)
		}
	}
}
