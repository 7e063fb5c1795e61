package outboxtest

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/outbox"
)

// delayBound is how late after its due time a delayed row may be sent
// in these tests: the relay's timer plus a move, a claim and a publish
// on a shared 2-core machine (under -race). The poll interval of the
// relays that check it is an hour: only the timer meets it.
const delayBound = time.Second

// writeAt publishes msgs to topic for delivery at at in one committed
// transaction.
func writeAt(t *testing.T, db *sql.DB, s *outbox.Store, topic string, at time.Time, msgs ...*herald.Message) {
	t.Helper()
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PublishAt(ctx, tx, topic, at, msgs...); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// runRelay runs r until the test ends (or stop is called, which waits).
func runRelay(t *testing.T, r *outbox.Relay) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := r.Run(ctx); err != nil {
			t.Errorf("relay: %v", err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// hourPoll is a relay that polls once an hour: on PostgreSQL woken by
// LISTEN/NOTIFY at every commit, on SQLite by nothing. Delayed rows meet
// their due time only through the relay's timer.
func hourPoll(t *testing.T, d database, table string) []outbox.RelayOption {
	opts := []outbox.RelayOption{outbox.WithPollInterval(time.Hour)}
	if d.dialect == outbox.PostgreSQL {
		opts = append(opts, outbox.WithNotifier(newPGNotifier(t, table)))
	}
	return opts
}

// Delayed rows are not sent before their due time, and are sent within
// delayBound after it by a relay polling once an hour (its timer, set
// from the earliest due row: on PostgreSQL learned at the NOTIFY of the
// commit, the relay running; on SQLite at the relay's start, the rows
// written before). A row of the same key published at once is sent at
// once: a row not yet due holds back nothing. Stats counts the rows
// waiting as Delayed, not Pending.
func TestDelayedNotBeforeDue(t *testing.T) {
	forEach(t, func(t *testing.T, d database, table string) {
		ctx := context.Background()
		db := d.open(t)
		s := newStore(t, db, d.dialect, table)
		p, target := newProbe(t)
		r, err := s.NewRelay(openPublisher(t, target), hourPoll(t, d, table)...)
		if err != nil {
			t.Fatal(err)
		}
		if d.dialect == outbox.PostgreSQL {
			runRelay(t, r)
		}
		at := time.Now().Add(700 * time.Millisecond)
		writeAt(t, db, s, "orders", at, msg("delayed-k", "k"), msg("delayed-free", ""), msg("delayed-j", "j"))
		write(t, db, s, "orders", msg("now-k", "k"))
		st, err := r.Stats(ctx)
		if err != nil || st.Delayed != 3 || st.Pending > 1 {
			t.Fatalf("Stats = %+v, %v; want 3 delayed, at most 1 pending (now-k)", st, err)
		}
		if d.dialect == outbox.SQLite {
			runRelay(t, r)
		}
		p.waitDistinct(t, 4, 30*time.Second)
		p.mu.Lock()
		defer p.mu.Unlock()
		if got := p.firstAt["now-k"]; !got.Before(at) {
			t.Errorf("now-k sent %v after the delayed rows' due time; want at once (before it)", got.Sub(at))
		}
		for _, name := range []string{"delayed-k", "delayed-free", "delayed-j"} {
			late := p.firstAt[name].Sub(at)
			t.Logf("%s: sent %v after its due time", name, late)
			if late < 0 || late > delayBound {
				t.Errorf("%s sent %v after its due time; want within [0, %v]", name, late, delayBound)
			}
		}
		if got := p.byKey["k"]; !slices.Equal(got, []string{"now-k", "delayed-k"}) {
			t.Errorf("key k sent %v; want [now-k delayed-k]", got)
		}
		if p.total != 4 {
			t.Errorf("%d sends of 4 messages", p.total)
		}
		if st, err := r.Stats(ctx); err != nil || st.Delayed != 0 {
			t.Errorf("Stats after = %+v, %v; want 0 delayed", st, err)
		}
	})
}

// A key's rows go in the order they came due: a row published at once
// first (it is due when written), delayed rows in due-time order (the
// one due first although written last), equal due times in the order
// written, then a row written after they were all sent. Both with the
// relay running while they come due, and with the relay started only
// after all were due (moved together: due-time order, then written).
func TestDelayedKeyOrder(t *testing.T) {
	forEach(t, func(t *testing.T, d database, table string) {
		ctx := context.Background()
		for _, running := range []bool{true, false} {
			t.Run(fmt.Sprintf("running=%v", running), func(t *testing.T) {
				db := d.open(t)
				tbl := tableName()
				s := newStore(t, db, d.dialect, tbl)
				p, target := newProbe(t)
				r, err := s.NewRelay(openPublisher(t, target), outbox.WithPollInterval(10*time.Millisecond))
				if err != nil {
					t.Fatal(err)
				}
				base := time.Now()
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				// Written in this order, all for key k.
				must(t, s.PublishAt(ctx, tx, "orders", base.Add(900*time.Millisecond), msg("late", "k")))
				must(t, s.PublishAt(ctx, tx, "orders", base.Add(500*time.Millisecond), msg("mid-1", "k"), msg("mid-2", "k")))
				must(t, s.PublishAt(ctx, tx, "orders", base.Add(300*time.Millisecond), msg("early", "k")))
				must(t, s.Publish(ctx, tx, "orders", msg("now", "k")))
				must(t, tx.Commit())
				if running {
					runRelay(t, r)
				} else {
					// All due, by the relay's clock and the due time rounded up
					// to the column's precision (ms on SQLite).
					time.Sleep(time.Until(base.Add(901 * time.Millisecond)))
					if n, err := r.RunOnce(ctx); n != 5 || err != nil {
						t.Fatalf("RunOnce after all were due = %d, %v; want 5", n, err)
					}
				}
				p.waitDistinct(t, 5, 30*time.Second)
				write(t, db, s, "orders", msg("after", "k"))
				if !running {
					if n, err := r.RunOnce(ctx); n != 1 || err != nil {
						t.Fatalf("RunOnce = %d, %v; want 1", n, err)
					}
				}
				p.waitDistinct(t, 6, 30*time.Second)
				p.mu.Lock()
				defer p.mu.Unlock()
				want := []string{"now", "early", "mid-1", "mid-2", "late", "after"}
				if got := p.byKey["k"]; !slices.Equal(got, want) {
					t.Fatalf("key k sent %v; want %v", got, want)
				}
				if p.maxKey != 1 {
					t.Errorf("%d sends of key k in flight at once; want 1", p.maxKey)
				}
				for name, due := range map[string]time.Duration{"early": 300 * time.Millisecond, "mid-1": 500 * time.Millisecond, "late": 900 * time.Millisecond} {
					if sent := p.firstAt[name].Sub(base); sent < due {
						t.Errorf("%s sent %v after the write; due after %v", name, sent, due)
					}
				}
			})
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Delayed rows wait in the database, not in a relay: a relay that ran
// and stopped while they waited, its database handle closed (the
// application gone; on SQLite every handle on the file closed, the
// database itself restarted), leaves them, and a relay of a new process
// (a new handle and Store) sends them after their due time, once each.
func TestDelayedSurvivesRelayRestart(t *testing.T) {
	forEach(t, func(t *testing.T, d database, table string) {
		ctx := context.Background()
		first := d.open(t)
		s := newStore(t, first, d.dialect, table)
		p, target := newProbe(t)
		pub := openPublisher(t, target)
		at := time.Now().Add(time.Second)
		var ms []*herald.Message
		for i := range 10 {
			key := ""
			if i%2 == 0 {
				key = "k" + strconv.Itoa(i%4)
			}
			ms = append(ms, msg(strconv.Itoa(i), key))
		}
		writeAt(t, first, s, "orders", at, ms...)
		r1, err := s.NewRelay(pub, outbox.WithPollInterval(10*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		if n, err := r1.RunOnce(ctx); n != 0 || err != nil {
			t.Fatalf("RunOnce before the due time = %d, %v; want 0", n, err)
		}
		stop := runRelay(t, r1)
		if st, err := r1.Stats(ctx); err != nil || st.Delayed != 10 {
			t.Fatalf("Stats = %+v, %v; want 10 delayed", st, err)
		}
		stop()
		first.Close()
		if !time.Now().Before(at) {
			t.Fatalf("the first relay stopped after the due time; the test proves nothing")
		}
		p.mu.Lock()
		sent := p.total
		p.mu.Unlock()
		if sent != 0 {
			t.Fatalf("%d rows sent before their due time", sent)
		}
		second := d.open(t)
		r2, err := newStore(t, second, d.dialect, table).NewRelay(pub, hourPoll(t, d, table)...)
		if err != nil {
			t.Fatal(err)
		}
		runRelay(t, r2)
		p.waitDistinct(t, 10, 30*time.Second)
		p.mu.Lock()
		defer p.mu.Unlock()
		for i := range 10 {
			if late := p.firstAt[strconv.Itoa(i)].Sub(at); late < 0 || late > delayBound {
				t.Errorf("row %d sent %v after its due time; want within [0, %v]", i, late, delayBound)
			}
		}
		if p.total != 10 || p.maxID != 1 {
			t.Errorf("%d sends of 10 rows (at most %d of one at once); want each once", p.total, p.maxID)
		}
	})
}

// A PublishAt in a transaction rolled back never sends: the committed
// delayed row next to it is the only one sent, and no delayed row is
// left.
func TestRolledBackPublishAtNeverSent(t *testing.T) {
	forEach(t, func(t *testing.T, d database, table string) {
		ctx := context.Background()
		db := d.open(t)
		s := newStore(t, db, d.dialect, table)
		p, target := newProbe(t)
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		must(t, s.PublishAfter(ctx, tx, "orders", 100*time.Millisecond, msg("rolled-back", "k"), msg("rolled-back-free", "")))
		must(t, tx.Rollback())
		at := time.Now().Add(200 * time.Millisecond)
		writeAt(t, db, s, "orders", at, msg("committed", "k"))
		r, err := s.NewRelay(openPublisher(t, target), outbox.WithPollInterval(10*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		stop := runRelay(t, r)
		p.waitDistinct(t, 1, 30*time.Second)
		stop()
		if n, err := r.RunOnce(ctx); n != 0 || err != nil { // after the due times: nothing else
			t.Fatalf("RunOnce after the due time = %d, %v; want 0", n, err)
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.total != 1 || len(p.firstAt) != 1 || p.firstAt["committed"].IsZero() {
			t.Fatalf("sent %v (%d sends); want only the committed row", p.payloads, p.total)
		}
		if c := count(t, db, "SELECT count(*) FROM "+table+"_delayed"); c != 0 {
			t.Fatalf("%d delayed rows left", c)
		}
	})
}

// Store.Publish, and PublishAt with a time not after now, write into the
// outbox itself, as before delayed delivery: nothing in the delayed
// table, sent by the first RunOnce. The zero time is refused.
func TestPublishAtNowIsPublish(t *testing.T) {
	forEach(t, func(t *testing.T, d database, table string) {
		ctx := context.Background()
		db := d.open(t)
		s := newStore(t, db, d.dialect, table)
		_, target := newProbe(t)
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback() //nolint:errcheck
		must(t, s.Publish(ctx, tx, "orders", msg("publish", "k")))
		must(t, s.PublishAt(ctx, tx, "orders", time.Now().Add(-time.Second), msg("past", "k")))
		must(t, s.PublishAfter(ctx, tx, "orders", 0, msg("after-0", "")))
		if err := s.PublishAt(ctx, tx, "orders", time.Time{}, msg("zero", "")); err == nil {
			t.Fatal("PublishAt with the zero time: nil error; want a refusal")
		}
		must(t, tx.Commit())
		if c := count(t, db, "SELECT count(*) FROM "+table+"_delayed"); c != 0 {
			t.Fatalf("%d delayed rows; want 0", c)
		}
		r, err := s.NewRelay(openPublisher(t, target))
		if err != nil {
			t.Fatal(err)
		}
		if n, err := r.RunOnce(ctx); n != 3 || err != nil {
			t.Fatalf("RunOnce = %d, %v; want 3", n, err)
		}
	})
}

// Two relays on one table move each delayed row into the outbox once:
// 200 rows due together are each sent once, never twice at once, and
// their keys in written order (equal due times).
func TestDelayedRelaysMoveOnce(t *testing.T) {
	forEach(t, func(t *testing.T, d database, table string) {
		db := d.open(t)
		s := newStore(t, db, d.dialect, table)
		p, target := newProbe(t)
		pub := openPublisher(t, target)
		const n = 200
		at := time.Now().Add(500 * time.Millisecond)
		var ms []*herald.Message
		for i := range n {
			ms = append(ms, msg(strconv.Itoa(i), "k"+strconv.Itoa(i%5)))
		}
		writeAt(t, db, s, "orders", at, ms...)
		for range 2 {
			r, err := newStore(t, d.open(t), d.dialect, table).NewRelay(pub, outbox.WithPollInterval(20*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			runRelay(t, r)
		}
		p.waitDistinct(t, n, time.Minute)
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.total != n || p.maxID != 1 || p.maxKey != 1 {
			t.Fatalf("%d sends of %d rows, at most %d of one row and %d of one key at once; want each once, one per key", p.total, n, p.maxID, p.maxKey)
		}
		for k, got := range p.byKey {
			for i := 1; i < len(got); i++ {
				a, _ := strconv.Atoi(got[i-1])
				b, _ := strconv.Atoi(got[i])
				if a >= b {
					t.Fatalf("%s sent out of order: %v", k, got)
				}
			}
		}
	})
}

// The longest table name (48 bytes) fits the names derived for the
// delayed table (<table>_delayed_notify is 63 bytes, PostgreSQL's most):
// New creates them and a delayed row is sent.
func TestDelayedLongestTableName(t *testing.T) {
	forEach(t, func(t *testing.T, d database, _ string) {
		table := tableName()
		table += strings.Repeat("x", 48-len(table))
		db := d.open(t)
		s := newStore(t, db, d.dialect, table)
		writeAt(t, db, s, "orders", time.Now().Add(20*time.Millisecond), msg("delayed", ""))
		p, target := newProbe(t)
		r, err := s.NewRelay(openPublisher(t, target), outbox.WithPollInterval(5*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		runRelay(t, r)
		p.waitDistinct(t, 1, 30*time.Second)
	})
}
