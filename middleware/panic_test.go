package middleware_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

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
// the publish inside it panics (otelmw's test module checks
// PublishTracing and PublishMetrics).
func TestPublishMiddlewarePanic(t *testing.T) {
	logs := &logRecorder{}
	publish := herald.ChainPublish(func(context.Context, string, ...*herald.Message) error { panic("kaboom") },
		middleware.PublishCorrelationID(), middleware.PublishLogging(slog.New(logs)))
	p := func() (p any) {
		defer func() { p = recover() }()
		_ = publish(deliveryCtx("orders", ""), "orders", herald.NewMessage(nil))
		return nil
	}()
	if p != "kaboom" {
		t.Fatalf("panic value seen outside the publish middleware = %v; want kaboom", p)
	}
	recs := logs.records()
	if len(recs) != 1 || recs[0].msg != "herald: publish failed" || !strings.Contains(recs[0].attrs["error"], "kaboom") {
		t.Errorf("log records = %+v; want one publish failed line naming the panic", recs)
	}
}
