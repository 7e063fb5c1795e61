package nats_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/adaptertest"
)

// logSink is a slog.Handler keeping every record.
type logSink struct {
	mu   sync.Mutex
	recs []string
}

func (l *logSink) Enabled(context.Context, slog.Level) bool { return true }
func (l *logSink) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logSink) WithGroup(string) slog.Handler            { return l }
func (l *logSink) Handle(_ context.Context, r slog.Record) error {
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

// count returns how many records start with level and contain all of words.
func (l *logSink) count(level slog.Level, words ...string) int {
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

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.recs, "\n")
}

// statusLog records what a subscription reports with adapters.ReportStatus.
type statusLog struct {
	ch chan error
}

func newStatusLog() *statusLog { return &statusLog{ch: make(chan error, 100)} }

func (s *statusLog) ctx(parent context.Context) context.Context {
	return adapters.ContextWithStatus(parent, func(err error) { s.ch <- err })
}

// next returns the next report, failing after wait.
func (s *statusLog) next(t *testing.T, wait time.Duration) error {
	t.Helper()
	select {
	case err := <-s.ch:
		return err
	case <-time.After(wait):
		t.Fatalf("no status report within %v", wait)
		return nil
	}
}

func adaptertestProxy(t *testing.T, upstream string) *adaptertest.Proxy {
	return adaptertest.NewProxy(t, upstream)
}
