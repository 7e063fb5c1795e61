package adaptertest

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald/adapters"
)

// LogSink is a slog.Handler that keeps every record, for tests of what an
// adapter logs: pass slog.New(sink) with adapters.ContextWithLogger.
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
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Level, r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	l.recs = append(l.recs, b.String())
	l.mu.Unlock()
	return nil
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

// StatusLog records what a subscription reports with
// adapters.ReportStatus; C receives every report.
type StatusLog struct {
	C chan error
}

// NewStatusLog returns a StatusLog holding up to 100 unread reports.
func NewStatusLog() *StatusLog { return &StatusLog{C: make(chan error, 100)} }

// Context returns parent carrying the StatusLog as the subscription's
// status function: give it to Subscribe or Stream.
func (s *StatusLog) Context(parent context.Context) context.Context {
	return adapters.ContextWithStatus(parent, func(err error) { s.C <- err })
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
