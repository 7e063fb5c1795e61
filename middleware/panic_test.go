package middleware_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/middleware"
)

// Issue 7, item 5: middleware that keeps books on a delivery (in-flight
// gauges, spans, log lines, in-progress marks, attempt counts) must settle
// them when the handler inside panics and no Recover stops the panic
// before it (the subscriber recovers it further out), and must let the
// panic through unchanged.

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
	h := chain(panicky, middleware.Metrics(middleware.WithMeterProvider(r.mp)))
	ctx := deliveryCtx("orders", "billing")
	if p := handlePanicking(h, ctx, herald.NewMessage([]byte("panic"))); p != "kaboom" {
		t.Fatalf("panic value seen outside Metrics = %v; want the handler's (kaboom)", p)
	}
	if err := h.Handle(ctx, herald.NewMessage([]byte("ok"))); err != nil {
		t.Fatal(err)
	}
	data := r.collect()
	if got := sum(t, data, middleware.MetricInFlight, attrTopic); got != 0 {
		t.Errorf("in_flight after one panic and one success = %d; want 0", got)
	}
	if got := sum(t, data, middleware.MetricConsumed, attrTopic); got != 2 {
		t.Errorf("consumed = %d; want 2 (the panicking delivery counts)", got)
	}
	if got := sum(t, data, middleware.MetricFailed, attrTopic, attribute.String("error.type", "panic")); got != 1 {
		t.Errorf("failed{error.type=panic} = %d; want 1", got)
	}
	if got := histCount(t, data, middleware.MetricHandlerDuration, attrTopic); got != 2 {
		t.Errorf("handler duration count = %d; want 2", got)
	}
}

func TestTracingPanicEndsSpanWithError(t *testing.T) {
	rec, tp := newRecorder()
	h := chain(panicky, middleware.Tracing(middleware.WithTracerProvider(tp)))
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

func TestLoggingPanicIsLogged(t *testing.T) {
	rec := &logRecorder{}
	h := chain(panicky, middleware.Logging(slog.New(rec)))
	m := herald.NewMessage([]byte("panic"))
	if p := handlePanicking(h, deliveryCtx("t", ""), m); p != "kaboom" {
		t.Fatalf("panic value seen outside Logging = %v; want kaboom", p)
	}
	var failed, handled *logRec
	for _, r := range rec.records() {
		switch r.msg {
		case "herald: handler panicked; message will be redelivered":
			failed = &r
		case "herald: message handled":
			handled = &r
		}
	}
	if failed == nil || failed.level != slog.LevelError || failed.attrs["message_id"] != m.UUID ||
		!strings.Contains(failed.attrs["error"], "kaboom") || !strings.Contains(failed.attrs["stack"], "panic_test.go") {
		t.Errorf("panic line = %+v; want an Error line with the message ID, the panic value and its stack (records %+v)", failed, rec.records())
	}
	if handled == nil || handled.attrs["outcome"] != "panicked" {
		t.Errorf("debug line = %+v; want outcome panicked", handled)
	}
}

func TestDeduplicatePanicIsNotProcessed(t *testing.T) {
	calls := 0
	h := chain(func(ctx context.Context, m *herald.Message) error {
		calls++
		return panicky(ctx, m)
	}, middleware.Deduplicate())
	ctx := deliveryCtx("t", "")
	m := herald.NewMessage([]byte("panic"))
	if p := handlePanicking(h, ctx, m); p != "kaboom" {
		t.Fatalf("panic value seen outside Deduplicate = %v; want kaboom", p)
	}
	// The redelivery is handled: neither marked as processed nor left
	// marked as in progress (which would answer ErrDuplicateInFlight).
	m.Payload = []byte("ok")
	if err := h.Handle(ctx, m); err != nil || calls != 2 {
		t.Fatalf("redelivery after a panic: %v after %d calls; want it handled (2 calls)", err, calls)
	}
}

func TestRedeliveryCountsPanics(t *testing.T) {
	var attempts []int
	h := chain(func(ctx context.Context, m *herald.Message) error {
		attempts = append(attempts, middleware.Attempt(ctx))
		return panicky(ctx, m)
	}, middleware.Retry(middleware.Redelivery(), middleware.MaxAttempts(5)))
	ctx := deliveryCtx("t", "")
	m := herald.NewMessage([]byte("panic"))
	for i := 0; i < 2; i++ {
		if p := handlePanicking(h, ctx, m); p != "kaboom" {
			t.Fatalf("delivery %d: panic value seen outside Retry = %v; want kaboom", i+1, p)
		}
	}
	m.Payload = []byte("ok")
	if err := h.Handle(ctx, m); err != nil {
		t.Fatal(err)
	}
	if len(attempts) != 3 || attempts[0] != 1 || attempts[1] != 2 || attempts[2] != 3 {
		t.Errorf("attempts seen = %v; want [1 2 3] (a panicking delivery is an attempt)", attempts)
	}
}

func TestTimeoutPanicCancelsContext(t *testing.T) {
	var hctx context.Context
	h := chain(func(ctx context.Context, m *herald.Message) error {
		hctx = ctx
		return panicky(ctx, m)
	}, middleware.Timeout(time.Hour))
	if p := handlePanicking(h, deliveryCtx("t", ""), herald.NewMessage([]byte("panic"))); p != "kaboom" {
		t.Fatalf("panic value seen outside Timeout = %v; want kaboom", p)
	}
	if hctx == nil || hctx.Err() == nil {
		t.Error("the attempt's context was not cancelled after the panic (its timer leaks)")
	}
}

// TestPublishMiddlewarePanic: the publish side keeps its books too when
// the publish inside it panics.
func TestPublishMiddlewarePanic(t *testing.T) {
	r := newMetricsReader(t)
	spans, tp := newRecorder()
	logs := &logRecorder{}
	publish := herald.ChainPublish(func(context.Context, string, ...*herald.Message) error { panic("kaboom") },
		middleware.PublishTracing(middleware.WithTracerProvider(tp)), middleware.PublishMetrics(middleware.WithMeterProvider(r.mp)),
		middleware.PublishLogging(slog.New(logs)))
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
	if got := histCount(t, r.collect(), middleware.MetricPublishDuration, attribute.String("error.type", "panic")); got != 1 {
		t.Errorf("publish duration{error.type=panic} count = %d; want 1", got)
	}
	recs := logs.records()
	if len(recs) != 1 || recs[0].msg != "herald: publish failed" || !strings.Contains(recs[0].attrs["error"], "kaboom") {
		t.Errorf("log records = %+v; want one publish failed line naming the panic", recs)
	}
}
