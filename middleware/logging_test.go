package middleware_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/middleware"
)

// logRecorder is a slog handler that keeps records and the ctx each was
// logged with.
type logRecorder struct {
	mu     sync.Mutex
	recs   []logRec
	notify chan struct{} // optional: signalled after each record
}

type logRec struct {
	level slog.Level
	msg   string
	attrs map[string]string
	ctx   context.Context
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }
func (r *logRecorder) Handle(ctx context.Context, rec slog.Record) error {
	a := map[string]string{}
	rec.Attrs(func(at slog.Attr) bool { a[at.Key] = at.Value.String(); return true })
	r.mu.Lock()
	r.recs = append(r.recs, logRec{level: rec.Level, msg: rec.Message, attrs: a, ctx: ctx})
	r.mu.Unlock()
	if r.notify != nil {
		select {
		case r.notify <- struct{}{}:
		default:
		}
	}
	return nil
}

func (r *logRecorder) records() []logRec {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]logRec(nil), r.recs...)
}

type ctxMarker struct{}

func TestLoggingLines(t *testing.T) {
	rec := &logRecorder{}
	pub := &fakePub{}
	logger := slog.New(rec)
	h := chain(func(ctx context.Context, m *herald.Message) error {
		if string(m.Payload) == "poison" {
			return errBoom
		}
		return nil
	}, middleware.CorrelationID(), middleware.Logging(logger, middleware.LogHeaders("safe")), middleware.DeadLetter(pub, "dlq"),
		middleware.Retry(middleware.MaxAttempts(3), middleware.InitialDelay(time.Millisecond)))

	ctx := context.WithValue(deliveryCtx("orders", "billing"), ctxMarker{}, "handler-ctx")
	good := herald.NewMessage([]byte("fine"))
	good.Metadata.Set("safe", "visible")
	good.Metadata.Set("secret", "s3cr3t")
	bad := herald.NewMessage([]byte("poison"))
	if err := h.Handle(ctx, good); err != nil {
		t.Fatal(err)
	}
	if err := h.Handle(ctx, bad); err != nil {
		t.Fatal(err)
	}

	var retries, dead, debug int
	for _, r := range rec.records() {
		if r.ctx.Value(ctxMarker{}) != "handler-ctx" {
			t.Errorf("%q logged without the handler's ctx", r.msg)
		}
		for k, v := range r.attrs {
			if strings.Contains(v, "poison") || strings.Contains(v, "fine") || strings.Contains(v, "s3cr3t") {
				t.Errorf("%q logs payload or secret header in %s=%s", r.msg, k, v)
			}
		}
		if r.attrs["topic"] != "orders" || r.attrs["group"] != "billing" || r.attrs["message_id"] == "" || r.attrs["correlation_id"] == "" {
			t.Errorf("%q lacks topic/group/message_id/correlation_id: %v", r.msg, r.attrs)
		}
		switch {
		case r.level == slog.LevelWarn && strings.Contains(r.msg, "retrying"):
			retries++
			if r.attrs["attempt"] == "" || r.attrs["delay"] == "" || r.attrs["error"] != errBoom.Error() {
				t.Errorf("retry line lacks attempt/delay/error: %v", r.attrs)
			}
		case r.level == slog.LevelError && strings.Contains(r.msg, "dead-lettered"):
			dead++
			if r.attrs["attempt"] != "3" || r.attrs["dead_letter_topic"] != "dlq" || r.attrs["message_id"] != bad.UUID {
				t.Errorf("dead-letter line: %v", r.attrs)
			}
		case r.level == slog.LevelDebug:
			debug++
			if r.attrs["message_id"] == good.UUID && (r.attrs["outcome"] != "acked" || r.attrs["header.safe"] != "visible") {
				t.Errorf("debug line for the good message: %v", r.attrs)
			}
			if r.attrs["message_id"] == bad.UUID && r.attrs["outcome"] != "dead_lettered" {
				t.Errorf("debug line for the poison message: %v", r.attrs)
			}
		default:
			t.Errorf("unexpected line %v %q %v", r.level, r.msg, r.attrs)
		}
	}
	if retries != 2 || dead != 1 || debug != 2 {
		t.Fatalf("lines: %d retries, %d dead-letters, %d debug; want 2, 1, 2", retries, dead, debug)
	}
}

func TestLoggingFailureLine(t *testing.T) {
	rec := &logRecorder{}
	h := chain(func(context.Context, *herald.Message) error { return errBoom }, middleware.Logging(slog.New(rec)))
	_ = h.Handle(deliveryCtx("t", ""), herald.NewMessage(nil))
	recs := rec.records()
	if len(recs) != 2 || recs[0].level != slog.LevelError || recs[0].attrs["error"] != errBoom.Error() || recs[0].attrs["attempt"] != "1" || recs[1].attrs["outcome"] != "nacked" {
		t.Fatalf("records = %+v; want one error line then a debug line", recs)
	}
}

func TestLoggingRedeliveryLogsOneLinePerFailure(t *testing.T) {
	rec := &logRecorder{}
	h := chain(func(context.Context, *herald.Message) error { return errBoom },
		middleware.Logging(slog.New(rec)), middleware.Retry(middleware.Redelivery()))
	_ = h.Handle(deliveryCtx("t", ""), herald.NewMessage(nil))
	var nonDebug []logRec
	for _, r := range rec.records() {
		if r.level > slog.LevelDebug {
			nonDebug = append(nonDebug, r)
		}
	}
	if len(nonDebug) != 1 || nonDebug[0].level != slog.LevelWarn || nonDebug[0].attrs["redelivery"] != "true" {
		t.Fatalf("records = %+v; want a single retry line", nonDebug)
	}
}

func TestLoggingPanicHasStack(t *testing.T) {
	rec := &logRecorder{}
	h := chain(func(context.Context, *herald.Message) error { panic("kaboom") }, middleware.Logging(slog.New(rec)), middleware.Recover())
	_ = h.Handle(deliveryCtx("t", ""), herald.NewMessage(nil))
	if r := rec.records()[0]; !strings.Contains(r.attrs["stack"], "logging_test.go") {
		t.Fatalf("failure line for a panic lacks the stack: %v", r.attrs)
	}
}

func TestLoggingNilLoggerIsSilent(t *testing.T) {
	h := chain(func(context.Context, *herald.Message) error { return errBoom }, middleware.Logging(nil))
	if err := h.Handle(deliveryCtx("t", ""), herald.NewMessage(nil)); err != errBoom {
		t.Fatal(err)
	}
	p := herald.ChainPublish((&fakePub{}).Publish, middleware.PublishLogging(nil))
	if err := p(context.Background(), "t", herald.NewMessage(nil)); err != nil {
		t.Fatal(err)
	}
}

func TestPublishLogging(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	pub := &fakePub{fail: 1}
	p := herald.ChainPublish(pub.Publish, middleware.PublishCorrelationID(), middleware.PublishLogging(logger))
	m := herald.NewMessage([]byte("payload-never-logged"))
	ctx := herald.ContextWithDelivery(context.Background(), herald.Delivery{Backend: "mem", Topic: "t"})
	if err := p(ctx, "t", m); err == nil {
		t.Fatal("want the fake failure")
	}
	if err := p(ctx, "t", m, herald.NewMessage(nil)); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("lines = %q; want 2", lines)
	}
	var fail, ok map[string]any
	_ = json.Unmarshal([]byte(lines[0]), &fail)
	_ = json.Unmarshal([]byte(lines[1]), &ok)
	if fail["level"] != "ERROR" || fail["message_id"] != m.UUID || fail["topic"] != "t" || fail["backend"] != "mem" || fail["error"] == nil || fail["correlation_id"] == nil {
		t.Errorf("failure line = %v", fail)
	}
	if ok["level"] != "DEBUG" || ok["messages"] != float64(2) {
		t.Errorf("success line = %v", ok)
	}
	if strings.Contains(buf.String(), "payload-never-logged") {
		t.Error("payload logged")
	}
}

func slogFor(r *logRecorder) *slog.Logger { return slog.New(r) }

// has reports whether a record with message msg about message ID id was
// logged.
func (r *logRecorder) has(msg, id string) bool {
	for _, rec := range r.records() {
		if rec.msg == msg && rec.attrs["message_id"] == id {
			return true
		}
	}
	return false
}

// waitFor waits until has(msg, id); r must have been made with a notify
// channel.
func (r *logRecorder) waitFor(t *testing.T, msg, id string) {
	t.Helper()
	timeout := time.After(waitFor)
	for !r.has(msg, id) {
		select {
		case <-r.notify:
		case <-timeout:
			t.Fatalf("no log line %q for message %s after %v", msg, id, waitFor)
		}
	}
}
