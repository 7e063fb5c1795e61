package pgnotify_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters/adaptertest"
	_ "github.com/heraldkit/herald/adapters/memory"
	"github.com/heraldkit/herald/outbox"
	"github.com/heraldkit/herald/outbox/pgnotify"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// Bad settings are configuration errors naming the option, before any I/O.
func TestBadConfig(t *testing.T) {
	for name, try := range map[string]func() error{
		"pgnotify.New": func() error { _, err := pgnotify.New("postgres://127.0.0.1/x", ""); return err },
		"pgnotify.New ": func() error {
			_, err := pgnotify.New("postgres://127.0.0.1:notaport/x", "t")
			return err
		},
		"pgnotify.WithBackoff": func() error {
			_, err := pgnotify.New("postgres://127.0.0.1/x", "t", pgnotify.WithBackoff(time.Second, time.Millisecond))
			return err
		},
		"pgnotify.WithPingInterval": func() error {
			_, err := pgnotify.New("postgres://127.0.0.1/x", "t", pgnotify.WithPingInterval(-1))
			return err
		},
	} {
		var ce *herald.ConfigError
		if err := try(); !errors.As(err, &ce) || ce.Key != strings.TrimSpace(name) {
			t.Errorf("%s: %v; want a ConfigError naming it", name, err)
		}
	}
}

// rig is a relay of a fresh outbox table on db, to mem://, with a
// subscriber receiving what it relays.
type rig struct {
	db    *sql.DB
	store *outbox.Store
	got   chan string // payloads received
	mu    sync.Mutex
	seen  map[string]int
}

func newRig(t *testing.T, ctx context.Context, url string) *rig {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	table := fmt.Sprintf("pgn_%x", rand.Uint64())
	s, err := outbox.New(ctx, db, outbox.PostgreSQL, outbox.WithTable(table))
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{db: db, store: s, got: make(chan string, 100), seen: map[string]int{}}
	sub, err := subscriber.Open(ctx, "mem://"+table, subscriber.WithGroup("g"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Close() })
	if err := sub.Prepare(ctx, "orders"); err != nil {
		t.Fatal(err)
	}
	go sub.Subscribe(ctx, "orders", func(_ context.Context, m *herald.Message) error { //nolint:errcheck // ends with ctx
		r.mu.Lock()
		r.seen[m.UUID]++
		r.mu.Unlock()
		r.got <- string(m.Payload)
		return nil
	})
	return r
}

// run starts a relay with opts and returns a function that stops it.
func (r *rig) run(t *testing.T, ctx context.Context, opts ...outbox.RelayOption) {
	t.Helper()
	pub, err := publisher.Open(ctx, "mem://"+r.store.Table())
	if err != nil {
		t.Fatal(err)
	}
	relay, err := r.store.NewRelay(pub, opts...)
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); relay.Run(rctx) }() //nolint:errcheck // ends with rctx
	t.Cleanup(func() { stop(); <-done; pub.Close() })
}

// write commits one message with payload p; it returns the commit's time.
// A pooled connection that the restart killed fails its first use
// (57P01) and is dropped from the pool: the write is tried again, as an
// application would, for up to 10 s.
func (r *rig) write(t *testing.T, ctx context.Context, p string) time.Time {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := r.writeOnce(ctx, p)
		if err == nil {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond) // a retry's pause, not a wait for a signal
	}
}

func (r *rig) writeOnce(ctx context.Context, p string) error {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := r.store.Publish(ctx, tx, "orders", herald.NewMessage([]byte(p))); err != nil {
		return err
	}
	return tx.Commit()
}

// expect waits for payload p.
func (r *rig) expect(t *testing.T, p string, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case g := <-r.got:
			if g == p {
				return
			}
		case <-deadline:
			t.Fatalf("%q not relayed within %v", p, within)
		}
	}
}

// duplicates is how many messages were received more than once.
func (r *rig) duplicates() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := 0
	for _, n := range r.seen {
		d += n - 1
	}
	return d
}

// With the Notifier, a commit wakes a relay that would otherwise look
// again in an hour.
func TestWakesRelay(t *testing.T) {
	url := adaptertest.BrokerURL(t, "HERALD_TEST_POSTGRES")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := newRig(t, ctx, url)
	n, err := pgnotify.New(url, r.store.Table())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	r.run(t, ctx, outbox.WithPollInterval(time.Hour), outbox.WithNotifier(n))
	for i := range 5 {
		p := fmt.Sprint(i)
		at := r.write(t, ctx, p)
		r.expect(t, p, 10*time.Second)
		t.Logf("commit to handler: %v", time.Since(at))
	}
}

// logSink records the messages logged, and signals each.
type logSink struct {
	mu   sync.Mutex
	recs []slog.Record
	ch   chan string
}

func newLogSink() *logSink { return &logSink{ch: make(chan string, 1000)} }

func (l *logSink) Enabled(context.Context, slog.Level) bool { return true }
func (l *logSink) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.recs = append(l.recs, r)
	l.mu.Unlock()
	select {
	case l.ch <- r.Message:
	default:
	}
	return nil
}
func (l *logSink) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logSink) WithGroup(string) slog.Handler      { return l }

// count is how many records at level were logged.
func (l *logSink) count(level slog.Level) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.recs {
		if r.Level == level {
			n++
		}
	}
	return n
}

// waitFor waits until a message starting with prefix is logged.
func (l *logSink) waitFor(t *testing.T, prefix string, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case m := <-l.ch:
			if strings.HasPrefix(m, prefix) {
				return
			}
		case <-deadline:
			t.Fatalf("no %q logged within %v", prefix, within)
		}
	}
}

// failures records the times of a Notifier's failures and signals each.
type failures struct {
	mu sync.Mutex
	at []time.Time
	ch chan error
}

func (f *failures) hook(err error) {
	f.mu.Lock()
	f.at = append(f.at, time.Now())
	f.mu.Unlock()
	select {
	case f.ch <- err:
	default:
	}
}

// The database restarted: the Notifier reports every failure to connect
// (spaced by its backoff, never a spin; one warning per outage), connects
// again once the database is back, and wakes a relay that polls once an
// hour on the next commit. A second relay whose Notifier waits a minute
// between attempts is not woken meanwhile: it still relays, by polling.
func TestReconnectsAfterRestart(t *testing.T) {
	pg := startPrivatePG(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	const minBackoff, maxBackoff = 50 * time.Millisecond, 400 * time.Millisecond
	fast := newRig(t, ctx, pg.url())
	fastLog, fastFail := newLogSink(), &failures{ch: make(chan error, 1000)}
	nf, err := pgnotify.New(pg.url(), fast.store.Table(), pgnotify.WithBackoff(minBackoff, maxBackoff),
		pgnotify.WithOnError(fastFail.hook), pgnotify.WithLogger(slog.New(fastLog)))
	if err != nil {
		t.Fatal(err)
	}
	defer nf.Close()
	fast.run(t, ctx, outbox.WithPollInterval(time.Hour), outbox.WithNotifier(nf), outbox.WithRetryDelay(100*time.Millisecond))

	slow := newRig(t, ctx, pg.url())
	slowLog := newLogSink()
	ns, err := pgnotify.New(pg.url(), slow.store.Table(), pgnotify.WithBackoff(time.Minute, time.Minute), pgnotify.WithLogger(slog.New(slowLog)))
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	slow.run(t, ctx, outbox.WithPollInterval(100*time.Millisecond), outbox.WithNotifier(ns), outbox.WithRetryDelay(100*time.Millisecond))

	fast.write(t, ctx, "before")
	fast.expect(t, "before", 10*time.Second)
	slow.write(t, ctx, "before")
	slow.expect(t, "before", 10*time.Second)

	pg.stop()
	down := time.Now()
	for range 5 { // the connection lost, then attempts to connect while down
		select {
		case <-fastFail.ch:
		case <-time.After(30 * time.Second):
			t.Fatal("no failure reported while the database is down")
		}
	}
	slowLog.waitFor(t, "pgnotify: not listening", 10*time.Second)
	pg.start()
	downFor := time.Since(down)

	fastLog.waitFor(t, "pgnotify: listening again", 30*time.Second)
	for i := range 3 { // an hour's poll: only a notification wakes it
		p := fmt.Sprint("after-", i)
		at := fast.write(t, ctx, p)
		fast.expect(t, p, 10*time.Second)
		t.Logf("after the restart, commit to handler: %v", time.Since(at))
	}
	fastFail.mu.Lock()
	at := append([]time.Time(nil), fastFail.at...)
	fastFail.mu.Unlock()
	// Attempts after the first two (the loss, then one at once) are
	// spaced by at least half the backoff (its jitter).
	for i := 2; i < len(at); i++ {
		if gap := at[i].Sub(at[i-1]); gap < minBackoff/2 {
			t.Errorf("failures %d and %d %v apart; want >= %v (backoff, not a spin)", i-1, i, gap, minBackoff/2)
		}
	}
	if max := 2 + int(downFor/(minBackoff/2)); len(at) > max {
		t.Errorf("%d failures in %v down; want <= %d", len(at), downFor, max)
	}
	if w := fastLog.count(slog.LevelWarn); w != 1 {
		t.Errorf("%d warnings for one outage; want 1", w)
	}
	t.Logf("down %v: %d failures reported, %d warning", downFor, len(at), fastLog.count(slog.LevelWarn))

	// The slow Notifier waits a minute before it tries again: the relay
	// polls meanwhile.
	slow.write(t, ctx, "after")
	slow.expect(t, "after", 10*time.Second)
	slowLog.mu.Lock()
	for _, r := range slowLog.recs {
		if strings.HasPrefix(r.Message, "pgnotify: listening again") {
			t.Errorf("the slow Notifier connected again already; the test shows nothing")
		}
	}
	slowLog.mu.Unlock()
	if d := fast.duplicates() + slow.duplicates(); d != 0 {
		t.Errorf("%d duplicates", d)
	}
}

// Wait returns on a notification, on ctx's end (ctx's error) and once the
// Notifier was closed (ErrClosed, also for a Wait blocked at the time).
func TestWaitEnds(t *testing.T) {
	url := adaptertest.BrokerURL(t, "HERALD_TEST_POSTGRES")
	ctx := context.Background()
	channel := fmt.Sprintf("pgn_%x", rand.Uint64())
	n, err := pgnotify.New(url, channel)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Wait(ctx); err != nil { // connected: a wake-up
		t.Fatal(err)
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got := make(chan error, 1)
	go func() { got <- n.Wait(ctx) }()
	// Notify until the Wait saw one: it may not be waiting yet.
	for done := false; !done; {
		if _, err := db.Exec("SELECT pg_notify($1, '')", channel); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-got:
			if err != nil {
				t.Fatalf("Wait = %v on a notification", err)
			}
			done = true
		case <-time.After(100 * time.Millisecond):
		}
	}
	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := n.Wait(tctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait with a deadline = %v", err)
	}
	go func() { got <- n.Wait(ctx) }()
	time.Sleep(20 * time.Millisecond) // let it block (either way it must return ErrClosed)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if !errors.Is(err, pgnotify.ErrClosed) {
			t.Fatalf("blocked Wait after Close = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end a blocked Wait")
	}
	if err := n.Wait(ctx); !errors.Is(err, pgnotify.ErrClosed) {
		t.Fatalf("Wait after Close = %v", err)
	}
}
