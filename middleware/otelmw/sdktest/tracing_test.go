package sdktest

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/middleware"
	"github.com/heraldkit/herald/middleware/otelmw"
)

func newRecorder() (*tracetest.SpanRecorder, *sdktrace.TracerProvider) {
	rec := tracetest.NewSpanRecorder()
	return rec, sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
}

func spanNamed(t *testing.T, rec *tracetest.SpanRecorder, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	var found []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == name {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		var names []string
		for _, s := range rec.Ended() {
			names = append(names, s.Name())
		}
		t.Fatalf("want exactly one span %q; ended spans: %q", name, names)
	}
	return found[0]
}

func attrMap(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

// assertChildOf checks that consumer is in producer's trace, with producer
// as its (remote) parent.
func assertChildOf(t *testing.T, consumer, producer sdktrace.ReadOnlySpan) {
	t.Helper()
	if consumer.SpanContext().TraceID() != producer.SpanContext().TraceID() {
		t.Errorf("consumer trace %s != producer trace %s", consumer.SpanContext().TraceID(), producer.SpanContext().TraceID())
	}
	if consumer.Parent().SpanID() != producer.SpanContext().SpanID() || !consumer.Parent().IsRemote() {
		t.Errorf("consumer parent %s (remote %v); want the producer span %s", consumer.Parent().SpanID(), consumer.Parent().IsRemote(), producer.SpanContext().SpanID())
	}
	if consumer.SpanKind() != trace.SpanKindConsumer || producer.SpanKind() != trace.SpanKindProducer {
		t.Errorf("kinds: consumer %v, producer %v", consumer.SpanKind(), producer.SpanKind())
	}
}

func TestTracingProducerToConsumer(t *testing.T) {
	rec, tp := newRecorder()
	pub := &fakePub{}
	publish := herald.ChainPublish(pub.Publish, otelmw.PublishTracing(otelmw.WithTracerProvider(tp)), middleware.PublishCorrelationID())
	member, _ := baggage.NewMember("tenant", "acme")
	bag, _ := baggage.New(member)
	ctx := baggage.ContextWithBaggage(context.Background(), bag)
	ctx = herald.ContextWithDelivery(ctx, herald.Delivery{Backend: "kafka", Topic: "orders"})
	msg := herald.NewMessage([]byte("12345"))
	if err := publish(ctx, "orders", msg); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"traceparent", "baggage"} {
		if msg.Metadata.Get(h) == "" {
			t.Fatalf("metadata lacks %s: %v (the default propagator must be W3C while no global one is set)", h, msg.Metadata)
		}
	}

	var gotBaggage string
	h := chain(func(ctx context.Context, _ *herald.Message) error {
		gotBaggage = baggage.FromContext(ctx).Member("tenant").Value()
		return nil
	}, otelmw.Tracing(otelmw.WithTracerProvider(tp)))
	if err := h.Handle(herald.ContextWithDelivery(context.Background(), herald.Delivery{Backend: "kafka", Topic: "orders", Group: "billing"}), msg.Copy()); err != nil {
		t.Fatal(err)
	}
	prod, cons := spanNamed(t, rec, "send orders"), spanNamed(t, rec, "process orders")
	assertChildOf(t, cons, prod)
	if gotBaggage != "acme" {
		t.Errorf("baggage in handler ctx = %q; want acme", gotBaggage)
	}
	pa, ca := attrMap(prod), attrMap(cons)
	for k, want := range map[attribute.Key]string{
		"messaging.system": "kafka", "messaging.destination.name": "orders", "messaging.operation.type": "send",
		"messaging.message.id": msg.UUID, "herald.backend": "kafka", "messaging.message.conversation_id": msg.Metadata.Get(middleware.CorrelationIDHeader),
	} {
		if got := pa[k].String(); got != want {
			t.Errorf("producer %s = %q; want %q", k, got, want)
		}
	}
	for k, want := range map[attribute.Key]string{
		"messaging.system": "kafka", "messaging.destination.name": "orders", "messaging.operation.type": "process",
		"messaging.message.id": msg.UUID, "messaging.consumer.group.name": "billing", "messaging.message.body.size": "5",
	} {
		if got := ca[k].String(); got != want {
			t.Errorf("consumer %s = %q; want %q", k, got, want)
		}
	}
	if len(cons.Links()) != 1 || cons.Links()[0].SpanContext.SpanID() != prod.SpanContext().SpanID() {
		t.Errorf("consumer links = %v; want a link to the producer span", cons.Links())
	}
}

func TestTracingRecordsErrorsAndRetries(t *testing.T) {
	rec, tp := newRecorder()
	h := chain(func(context.Context, *herald.Message) error { return errBoom },
		otelmw.Tracing(otelmw.WithTracerProvider(tp)), middleware.Retry(middleware.MaxAttempts(2), middleware.InitialDelay(time.Millisecond)))
	_ = h.Handle(deliveryCtx("t", ""), herald.NewMessage(nil))
	s := spanNamed(t, rec, "process t")
	if s.Status().Code != codes.Error {
		t.Errorf("status = %v; want Error", s.Status())
	}
	var names []string
	for _, e := range s.Events() {
		names = append(names, e.Name)
	}
	if len(names) != 2 || names[0] != "herald.retry" || names[1] != "exception" {
		t.Errorf("events = %q; want herald.retry then exception", names)
	}
	if got := attrMap(s)["error.type"].String(); got != "_OTHER" {
		t.Errorf("error.type = %q", got)
	}
	if s.Parent().IsValid() {
		t.Error("a message without trace context should start a new trace")
	}
}

func TestTracingBatchAndCustomPropagator(t *testing.T) {
	rec, tp := newRecorder()
	pub := &fakePub{}
	publish := herald.ChainPublish(pub.Publish, otelmw.PublishTracing(otelmw.WithTracerProvider(tp), otelmw.WithPropagator(propagation.TraceContext{})))
	a, b := herald.NewMessage(nil), herald.NewMessage(nil)
	if err := publish(deliveryCtx("t", ""), "t", a, b); err != nil {
		t.Fatal(err)
	}
	var creates []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == "create t" {
			creates = append(creates, s)
		}
	}
	send := spanNamed(t, rec, "send t")
	if len(creates) != 2 || len(send.Links()) != 2 || send.SpanKind() != trace.SpanKindClient {
		t.Fatalf("%d create spans, send links %d kind %v; want 2 create spans linked from a CLIENT send span", len(creates), len(send.Links()), send.SpanKind())
	}
	if a.Metadata.Get("traceparent") == b.Metadata.Get("traceparent") || a.Metadata.Get("baggage") != "" {
		t.Error("each message should carry its own create span context, and no baggage with a TraceContext-only propagator")
	}
	rec2, tp2 := newRecorder()
	h := chain(func(context.Context, *herald.Message) error { return nil }, otelmw.Tracing(otelmw.WithTracerProvider(tp2)))
	_ = h.Handle(deliveryCtx("t", ""), b)
	cons := spanNamed(t, rec2, "process t")
	if cons.Parent().SpanID() != creates[1].SpanContext().SpanID() && cons.Parent().SpanID() != creates[0].SpanContext().SpanID() {
		t.Error("consumer is not a child of its message's create span")
	}
}

func TestTracingCaseInsensitiveHeaders(t *testing.T) {
	rec, tp := newRecorder()
	pub := &fakePub{}
	publish := herald.ChainPublish(pub.Publish, otelmw.PublishTracing(otelmw.WithTracerProvider(tp)))
	m := herald.NewMessage(nil)
	_ = publish(deliveryCtx("t", ""), "t", m)
	// A backend that canonicalizes header names (Traceparent).
	m.Metadata["Traceparent"] = m.Metadata["traceparent"]
	delete(m.Metadata, "traceparent")
	h := chain(func(context.Context, *herald.Message) error { return nil }, otelmw.Tracing(otelmw.WithTracerProvider(tp)))
	_ = h.Handle(deliveryCtx("t", ""), m)
	assertChildOf(t, spanNamed(t, rec, "process t"), spanNamed(t, rec, "send t"))
}
