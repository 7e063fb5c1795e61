package kafka_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
)

// logCapture is a slog.Handler that keeps every record, for tests that
// check what the adapter logs.
type logCapture struct {
	mu      sync.Mutex
	records []capturedRecord
}

type capturedRecord struct {
	level slog.Level
	msg   string
	attrs string
}

func (c *logCapture) Enabled(context.Context, slog.Level) bool { return true }

func (c *logCapture) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	c.mu.Lock()
	c.records = append(c.records, capturedRecord{level: r.Level, msg: r.Message, attrs: b.String()})
	c.mu.Unlock()
	return nil
}

func (c *logCapture) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &attrHandler{c: c, attrs: attrs}
}

func (c *logCapture) WithGroup(string) slog.Handler { return c }

// count returns the records at level or above whose message contains msg.
func (c *logCapture) count(level slog.Level, msg string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, r := range c.records {
		if r.level >= level && strings.Contains(r.msg, msg) {
			n++
		}
	}
	return n
}

func (c *logCapture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for _, r := range c.records {
		fmt.Fprintf(&b, "%s %s%s\n", r.level, r.msg, r.attrs)
	}
	return b.String()
}

type attrHandler struct {
	c     *logCapture
	attrs []slog.Attr
}

func (h *attrHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.c.Enabled(ctx, l) }

func (h *attrHandler) Handle(ctx context.Context, r slog.Record) error {
	r.AddAttrs(h.attrs...)
	return h.c.Handle(ctx, r)
}

func (h *attrHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &attrHandler{c: h.c, attrs: append(append([]slog.Attr(nil), h.attrs...), attrs...)}
}

func (h *attrHandler) WithGroup(string) slog.Handler { return h }

// statusLog records what a subscription reports with adapters.ReportStatus.
type statusLog struct {
	mu      sync.Mutex
	reports []error
	changed chan struct{} // receives after each report (buffered)
}

func newStatusLog() *statusLog { return &statusLog{changed: make(chan struct{}, 100)} }

func (s *statusLog) report(err error) {
	s.mu.Lock()
	s.reports = append(s.reports, err)
	s.mu.Unlock()
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

func (s *statusLog) all() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.reports...)
}
