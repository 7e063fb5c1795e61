package sdktest

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/middleware"
	"github.com/heraldkit/herald/middleware/otelmw"
	"github.com/heraldkit/herald/subscriber"
)

// publishedBatch returns three messages published through PublishTracing
// with tp, each carrying its "create" span's context.
func publishedBatch(t *testing.T, tp trace.TracerProvider) []*herald.Message {
	t.Helper()
	msgs := []*herald.Message{herald.NewMessage([]byte("a")), herald.NewMessage([]byte("b")), herald.NewMessage([]byte("c"))}
	send := otelmw.PublishTracing(otelmw.WithTracerProvider(tp))(func(context.Context, string, ...*herald.Message) error { return nil })
	if err := send(context.Background(), "orders", msgs...); err != nil {
		t.Fatal(err)
	}
	return msgs
}

// A batch gets one CONSUMER span, a new root linked to each message's
// producer span, with the outcomes counted and the failures as events.
func TestBatchTracingLinksEachMessage(t *testing.T) {
	rec, tp := newRecorder()
	msgs := publishedBatch(t, tp)
	pub := &fakePub{}
	h := herald.ChainBatch(func(_ context.Context, b *herald.Batch) error {
		b.Retry(1, errBoom)
		b.DeadLetter(2, herald.Permanent(errors.New("bad payload")))
		return nil
	}, otelmw.BatchTracing(otelmw.WithTracerProvider(tp)), middleware.BatchDeadLetter(pub, "{topic}.dlq"))
	if err := h(deliveryCtx("orders", "g"), herald.NewBatch(msgs)); err != nil {
		t.Fatal(err)
	}
	span := spanNamed(t, rec, "process orders")
	if span.SpanKind() != trace.SpanKindConsumer || span.Parent().IsValid() {
		t.Errorf("kind %v parent %v; want a CONSUMER root span", span.SpanKind(), span.Parent())
	}
	var creates []trace.SpanContext
	for _, s := range rec.Ended() {
		if s.Name() == "create orders" {
			creates = append(creates, s.SpanContext())
		}
	}
	if len(span.Links()) != 3 || len(creates) != 3 {
		t.Fatalf("%d links, %d producer spans; want 3 and 3", len(span.Links()), len(creates))
	}
	for i, l := range span.Links() {
		if l.SpanContext.TraceID() != creates[i].TraceID() || l.SpanContext.SpanID() != creates[i].SpanID() {
			t.Errorf("link %d is %v, want the producer span of message %d (%v)", i, l.SpanContext, i, creates[i])
		}
	}
	a := attrMap(span)
	want := map[attribute.Key]int64{"messaging.batch.message_count": 3, otelmw.BatchAckedKey: 1, otelmw.BatchRetriedKey: 1, otelmw.BatchDeadLetteredKey: 1, otelmw.BatchUnparkedKey: 0}
	for k, v := range want {
		if got := a[k].AsInt64(); got != v {
			t.Errorf("%s = %d, want %d", k, got, v)
		}
	}
	var events []string
	for _, e := range span.Events() {
		events = append(events, e.Name)
	}
	if len(events) != 2 || events[0] != "herald.retry" || events[1] != "herald.dead_letter" {
		t.Errorf("events %q, want herald.retry, herald.dead_letter", events)
	}
	if len(pub.sent) != 1 || pub.sent[0].Metadata.Get(middleware.DLQOriginalIDHeader) != msgs[2].UUID {
		t.Errorf("dead-lettered %d copies, want the copy of message 2", len(pub.sent))
	}
}

// A panic in the batch handler fails the batch span and passes on.
func TestBatchTracingPanic(t *testing.T) {
	rec, tp := newRecorder()
	h := herald.ChainBatch(func(context.Context, *herald.Batch) error { panic("boom") },
		middleware.BatchRecover(), otelmw.BatchTracing(otelmw.WithTracerProvider(tp)))
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic did not pass through BatchTracing")
			}
		}()
		_ = herald.ChainBatch(func(context.Context, *herald.Batch) error { panic("boom") },
			otelmw.BatchTracing(otelmw.WithTracerProvider(tp)))(deliveryCtx("t", ""), herald.NewBatch(publishedBatch(t, tp)))
	}()
	err := h(deliveryCtx("t", ""), herald.NewBatch(publishedBatch(t, tp)))
	var pe *herald.PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("BatchRecover returned %v, want a *herald.PanicError", err)
	}
	n := 0
	for _, s := range rec.Ended() {
		if s.Name() == "process t" {
			n++
			if s.Status().Code != codes.Error {
				t.Errorf("status %v, want Error", s.Status())
			}
		}
	}
	if n != 2 {
		t.Errorf("%d batch spans, want 2", n)
	}
}

// BatchMetrics counts every message consumed, the retried ones failed,
// the parked ones dead-lettered, and one batch duration.
func TestBatchMetricsCounts(t *testing.T) {
	r := newMetricsReader(t)
	h := herald.ChainBatch(func(_ context.Context, b *herald.Batch) error {
		b.Retry(0, errBoom)
		b.DeadLetter(1, errBoom)
		return nil
	}, otelmw.BatchMetrics(otelmw.WithMeterProvider(r.mp)), middleware.BatchDeadLetter(&fakePub{}, "dlq"))
	msgs := []*herald.Message{herald.NewMessage(nil), herald.NewMessage(nil), herald.NewMessage(nil), herald.NewMessage(nil)}
	if err := h(deliveryCtx("orders", "g"), herald.NewBatch(msgs)); err != nil {
		t.Fatal(err)
	}
	data := r.collect()
	for name, want := range map[string]int64{otelmw.MetricConsumed: 4, otelmw.MetricFailed: 1, otelmw.MetricDeadLettered: 1, otelmw.MetricInFlight: 0} {
		if got := sum(t, data, name); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
	if n := histCount(t, data, otelmw.MetricBatchDuration); n != 1 {
		t.Errorf("%s: %d records, want 1", otelmw.MetricBatchDuration, n)
	}
}

// Across each real broker: messages published through PublishTracing
// reach a SubscribeBatch handler with their trace context, and the
// batch's span links to each producer span.
func TestBatchTracingAcrossBrokers(t *testing.T) {
	eachBackend(t, func(t *testing.T, target string) {
		rec, tp := newSpanSignal()
		topic := uniq("otel.batch")
		ready := make(chan struct{}, 1)
		sub, err := subscriber.Open(context.Background(), target, subscriber.WithGroup(uniq("g")),
			subscriber.WithReady(func(string) { ready <- struct{}{} }), subscriber.WithDrainTimeout(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			done <- sub.SubscribeBatch(context.Background(), topic, func(context.Context, *herald.Batch) error { return nil },
				subscriber.BatchSize(3), subscriber.BatchWait(5*time.Second),
				subscriber.BatchMiddleware(otelmw.BatchTracing(otelmw.WithTracerProvider(tp))))
		}()
		t.Cleanup(func() {
			_ = sub.Close()
			<-done
		})
		select {
		case <-ready:
		case err := <-done:
			t.Fatalf("SubscribeBatch: %v", err)
		case <-time.After(waitFor):
			t.Fatal("not ready")
		}
		pub := openPub(t, target, otelmw.PublishTracing(otelmw.WithTracerProvider(tp)))
		msgs := []*herald.Message{herald.NewMessage([]byte("a")), herald.NewMessage([]byte("b")), herald.NewMessage([]byte("c"))}
		for _, m := range msgs {
			herald.SetKey(m, "k")
		}
		if err := pub.Publish(context.Background(), topic, msgs...); err != nil {
			t.Fatal(err)
		}
		span := rec.waitSpan(t, "the batch span", named("process "+topic))
		producers := map[trace.SpanID]bool{}
		for _, s := range rec.Ended() {
			if s.Name() == "create "+topic {
				producers[s.SpanContext().SpanID()] = true
			}
		}
		if len(producers) != 3 || len(span.Links()) != 3 {
			t.Fatalf("%d producer spans, %d links; want 3 and 3", len(producers), len(span.Links()))
		}
		for _, l := range span.Links() {
			if !producers[l.SpanContext.SpanID()] || !l.SpanContext.IsRemote() {
				t.Errorf("link %v is not to a producer span carried through the broker", l.SpanContext)
			}
		}
	})
}
