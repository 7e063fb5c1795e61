package adaptertest

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// LogSink is a slog.Handler that keeps every record, for tests of what a
// driver logs: pass slog.New(sink) as adapters.Env.Logger.
type LogSink struct {
	mu   sync.Mutex
	recs []string
}

// Enabled keeps every level.
func (l *LogSink) Enabled(context.Context, slog.Level) bool { return true }

// WithAttrs returns l (attributes of the logger itself are not kept).
func (l *LogSink) WithAttrs([]slog.Attr) slog.Handler { return l }

// WithGroup returns l.
func (l *LogSink) WithGroup(string) slog.Handler { return l }

// Handle keeps r as "LEVEL message key=value ...".
func (l *LogSink) Handle(_ context.Context, r slog.Record) error {
	s := format(r)
	l.mu.Lock()
	l.recs = append(l.recs, s)
	l.mu.Unlock()
	return nil
}

// format renders r as "LEVEL message key=value ...".
func format(r slog.Record) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Level, r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	return b.String()
}

// Count returns how many records are at level and contain all of words.
func (l *LogSink) Count(level slog.Level, words ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
next:
	for _, r := range l.recs {
		if !strings.HasPrefix(r, level.String()+" ") {
			continue
		}
		for _, w := range words {
			if !strings.Contains(r, w) {
				continue next
			}
		}
		n++
	}
	return n
}

// String returns every record, one a line.
func (l *LogSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.recs, "\n")
}

// Logger returns a logger writing every record (debug included) to t's
// log while t runs, and dropping what comes after t ended (a driver's
// goroutine logging after Close must not panic the test binary): the
// Env.Logger of the driver-level tests.
func Logger(t testing.TB) *slog.Logger {
	h := &testHandler{t: t}
	t.Cleanup(func() {
		h.mu.Lock()
		h.done = true
		h.mu.Unlock()
	})
	return slog.New(h)
}

// testHandler is Logger's slog.Handler.
type testHandler struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

// Enabled keeps every level.
func (h *testHandler) Enabled(context.Context, slog.Level) bool { return true }

// WithAttrs returns h (attributes of the logger itself are not kept).
func (h *testHandler) WithAttrs([]slog.Attr) slog.Handler { return h }

// WithGroup returns h.
func (h *testHandler) WithGroup(string) slog.Handler { return h }

// Handle logs r to t unless t has ended.
func (h *testHandler) Handle(_ context.Context, r slog.Record) error {
	s := format(r)
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.done {
		h.t.Log("driver: " + s)
	}
	return nil
}

// StatusLog records what a stream reports through its
// adapters.StreamOptions.Status function (Report); C receives every
// report.
type StatusLog struct {
	C chan error
}

// NewStatusLog returns a StatusLog holding up to 1000 unread reports.
func NewStatusLog() *StatusLog { return &StatusLog{C: make(chan error, 1000)} }

// Report is the stream's Status function: give s.Report as
// StreamOptions.Status. It never blocks: a report beyond 1000 unread ones
// is dropped.
func (s *StatusLog) Report(err error) {
	select {
	case s.C <- err:
	default:
	}
}

// Next returns the next report, failing the test after wait.
func (s *StatusLog) Next(t testing.TB, wait time.Duration) error {
	t.Helper()
	select {
	case err := <-s.C:
		return err
	case <-time.After(wait):
		t.Fatalf("no status report within %v", wait)
		return nil
	}
}
