package subscriber_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// fake is a scripted Watermill subscriber for facade tests: each Subscribe
// call runs subscribe (which may block on ctx, report a status or fail),
// then returns a channel fed from in. Settlements of the messages are
// recorded with the time they happened.
type fake struct {
	subscribe func(ctx context.Context) error
	in        chan *message.Message

	mu      sync.Mutex
	ctxs    []context.Context
	settled []settlement
	changed chan struct{} // a settlement was recorded
	closed  bool
	closeAt time.Time
}

type settlement struct {
	id    string
	ack   bool
	delay time.Duration // NackDelay on a nack
	at    time.Time
}

func newFake() *fake {
	return &fake{in: make(chan *message.Message), changed: make(chan struct{}, 1)}
}

func (f *fake) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	if f.subscribe != nil {
		if err := f.subscribe(ctx); err != nil {
			return nil, err
		}
	}
	f.mu.Lock()
	f.ctxs = append(f.ctxs, ctx)
	f.mu.Unlock()
	out := make(chan *message.Message)
	go func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case m := <-f.in:
				select {
				case out <- m:
				case <-ctx.Done():
					return
				}
				go f.watch(m)
			}
		}
	}()
	return out, nil
}

// watch records how m is settled.
func (f *fake) watch(m *message.Message) {
	s := settlement{id: m.UUID}
	select {
	case <-m.Acked():
		s.ack = true
	case <-m.Nacked():
		s.delay, _ = adapters.NackDelay(m)
	}
	s.at = time.Now()
	f.mu.Lock()
	f.settled = append(f.settled, s)
	f.mu.Unlock()
	select {
	case f.changed <- struct{}{}:
	default:
	}
}

func (f *fake) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	f.closeAt = time.Now()
	return nil
}

// send hands m to a subscription, failing the test after 5 s.
func (f *fake) send(t *testing.T, m *message.Message) {
	t.Helper()
	select {
	case f.in <- m:
	case <-time.After(5 * time.Second):
		t.Fatal("no subscription took the message")
	}
}

// settlements returns the settlements recorded so far.
func (f *fake) settlements() []settlement {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]settlement(nil), f.settled...)
}

// waitSettled waits for n settlements.
func (f *fake) waitSettled(t *testing.T, n int) []settlement {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		if s := f.settlements(); len(s) >= n {
			return s
		}
		select {
		case <-f.changed:
		case <-deadline:
			t.Fatalf("got %d settlements; want %d", len(f.settlements()), n)
		}
	}
}

// firstCtx is the context of the first Subscribe call, once made.
func (f *fake) firstCtx() context.Context {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.ctxs) == 0 {
		return nil
	}
	return f.ctxs[0]
}

type fakeAdapter struct{}

var (
	fakesMu sync.Mutex
	fakes   = map[string]*fake{}
)

func (fakeAdapter) Publisher(context.Context, herald.Config) (message.Publisher, error) {
	return nil, herald.ErrClosed
}

func (fakeAdapter) Subscriber(_ context.Context, cfg herald.Config) (message.Subscriber, error) {
	fakesMu.Lock()
	defer fakesMu.Unlock()
	return fakes[cfg.Hosts[0]], nil
}

func init() { adapters.Register("fake-test", fakeAdapter{}) }

// useFake registers f under the test's name and returns its target URL.
func useFake(t *testing.T, f *fake) string {
	name := "f" + time.Now().Format("150405.000000000")
	fakesMu.Lock()
	fakes[name] = f
	fakesMu.Unlock()
	return "fake-test://" + name
}

// logRecords captures what Herald logs through slog.Default() (its
// default logger) during the test.
type logRecords struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecords) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r)
	return nil
}
func (l *logRecords) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecords) WithGroup(string) slog.Handler      { return l }

// has reports whether a record at level or above has msg containing s.
func (l *logRecords) has(level slog.Level, s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.recs {
		if r.Level >= level && strings.Contains(r.Message, s) {
			return true
		}
	}
	return false
}

// captureDefault routes slog.Default() to a recorder for the test. Tests
// using it must not run in parallel.
func captureDefault(t *testing.T) *logRecords {
	rec := &logRecords{}
	old := slog.Default()
	slog.SetDefault(slog.New(rec))
	t.Cleanup(func() { slog.SetDefault(old) })
	return rec
}
