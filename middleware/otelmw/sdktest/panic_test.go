package sdktest

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/middleware/otelmw"
)

// Issue 7, item 5: middleware that keeps books on a delivery (in-flight
// gauges, spans) must settle them when the handler inside panics and no
// Recover stops the panic before it (the subscriber recovers it further
// out), and must let the panic through unchanged. (Package middleware's
// panic tests cover the rest.)

// handlePanicking calls h and returns what it panicked with (nil if it
// returned).
func handlePanicking(h herald.Handler, ctx context.Context, m *herald.Message) (p any) {
	defer func() { p = recover() }()
	_ = h.Handle(ctx, m)
	return nil
}

// panicky panics on the payload "panic" and succeeds otherwise.
func panicky(_ context.Context, m *herald.Message) error {
	if string(m.Payload) == "panic" {
		panic("kaboom")
	}
	return nil
}

func TestMetricsPanicDoesNotLeakInFlight(t *testing.T) {
	r := newMetricsReader(t)
	h := chain(panicky, otelmw.Metrics(otelmw.WithMeterProvider(r.mp)))
	ctx := deliveryCtx("orders", "billing")
	if p := handlePanicking(h, ctx, herald.NewMessage([]byte("panic"))); p != "kaboom" {
		t.Fatalf("panic value seen outside Metrics = %v; want the handler's (kaboom)", p)
	}
	if err := h.Handle(ctx, herald.NewMessage([]byte("ok"))); err != nil {
		t.Fatal(err)
	}
	data := r.collect()
	if got := sum(t, data, otelmw.MetricInFlight, attrTopic); got != 0 {
		t.Errorf("in_flight after one panic and one success = %d; want 0", got)
	}
	if got := sum(t, data, otelmw.MetricConsumed, attrTopic); got != 2 {
		t.Errorf("consumed = %d; want 2 (the panicking delivery counts)", got)
	}
	if got := sum(t, data, otelmw.MetricFailed, attrTopic, attribute.String("error.type", "panic")); got != 1 {
		t.Errorf("failed{error.type=panic} = %d; want 1", got)
	}
	if got := histCount(t, data, otelmw.MetricHandlerDuration, attrTopic); got != 2 {
		t.Errorf("handler duration count = %d; want 2", got)
	}
}

func TestTracingPanicEndsSpanWithError(t *testing.T) {
	rec, tp := newRecorder()
	h := chain(panicky, otelmw.Tracing(otelmw.WithTracerProvider(tp)))
	if p := handlePanicking(h, deliveryCtx("t", ""), herald.NewMessage([]byte("panic"))); p != "kaboom" {
		t.Fatalf("panic value seen outside Tracing = %v; want kaboom", p)
	}
	s := spanNamed(t, rec, "process t")
	if s.Status().Code != codes.Error || !strings.Contains(s.Status().Description, "kaboom") {
		t.Errorf("span status = %+v; want Error naming the panic", s.Status())
	}
	if got := attrMap(s)["error.type"].AsString(); got != "panic" {
		t.Errorf("error.type = %q; want panic", got)
	}
}

// TestPublishTelemetryPanic: PublishTracing and PublishMetrics keep their
// books when the publish inside them panics.
func TestPublishTelemetryPanic(t *testing.T) {
	r := newMetricsReader(t)
	spans, tp := newRecorder()
	publish := herald.ChainPublish(func(context.Context, string, ...*herald.Message) error { panic("kaboom") },
		otelmw.PublishTracing(otelmw.WithTracerProvider(tp)), otelmw.PublishMetrics(otelmw.WithMeterProvider(r.mp)))
	p := func() (p any) {
		defer func() { p = recover() }()
		_ = publish(deliveryCtx("orders", ""), "orders", herald.NewMessage(nil))
		return nil
	}()
	if p != "kaboom" {
		t.Fatalf("panic value seen outside the publish middleware = %v; want kaboom", p)
	}
	if s := spanNamed(t, spans, "send orders"); s.Status().Code != codes.Error {
		t.Errorf("send span status = %+v; want Error", s.Status())
	}
	if got := histCount(t, r.collect(), otelmw.MetricPublishDuration, attribute.String("error.type", "panic")); got != 1 {
		t.Errorf("publish duration{error.type=panic} count = %d; want 1", got)
	}
}
