package outboxtest

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters/adaptertest"
	"github.com/heraldkit/herald/outbox"
	"github.com/heraldkit/herald/subscriber"
)

// A rolled-back transaction's messages are never published; a committed
// one's are, once each, with their headers and key.
func TestRolledBackNeverPublished(t *testing.T) {
	forEachStore(t, func(t *testing.T, d database, db *sql.DB, s *outbox.Store, table string) {
		ctx := context.Background()
		p, target := newProbe(t)
		r, err := s.NewRelay(openPublisher(t, target))
		if err != nil {
			t.Fatal(err)
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Publish(ctx, tx, "orders", msg("rolled-back", "k")); err != nil {
			t.Fatal(err)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		kept := msg("committed", "k")
		write(t, db, s, "orders", kept)
		n, err := r.RunOnce(ctx)
		if err != nil || n != 1 {
			t.Fatalf("RunOnce = %d, %v; want 1, nil", n, err)
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.total != 1 || p.sends[kept.UUID] != 1 || p.payloads[kept.UUID] != "committed" {
			t.Fatalf("sent %v (%d in all); want only the committed message once", p.payloads, p.total)
		}
		if got := p.byKey["k"]; len(got) != 1 {
			t.Fatalf("key k: sent %v", got)
		}
	})
}

// Headers, key, ID and payload survive the table.
func TestMessageRoundTrip(t *testing.T) {
	forEachStore(t, func(t *testing.T, d database, db *sql.DB, s *outbox.Store, table string) {
		ctx := context.Background()
		pub := openPublisher(t, "mem://"+table)
		sub, err := subscriber.Open(ctx, "mem://"+table, subscriber.WithGroup("g"))
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		if err := sub.Prepare(ctx, "orders"); err != nil {
			t.Fatal(err)
		}
		got := make(chan *herald.Message, 1)
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go sub.Subscribe(sctx, "orders", func(_ context.Context, m *herald.Message) error { got <- m.Copy(); return nil }) //nolint:errcheck
		m := herald.NewMessage([]byte{0, 1, 2, 255})
		herald.SetKey(m, "order-1")
		m.Metadata.Set("traceparent", "00-abc-def-01")
		m.Metadata.Set("quote", `"a"\n`)
		write(t, db, s, "orders", m)
		r, err := s.NewRelay(pub)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := r.RunOnce(ctx); n != 1 || err != nil {
			t.Fatalf("RunOnce = %d, %v", n, err)
		}
		select {
		case g := <-got:
			if g.UUID != m.UUID || string(g.Payload) != string(m.Payload) || herald.Key(g) != "order-1" ||
				g.Metadata.Get("traceparent") != "00-abc-def-01" || g.Metadata.Get("quote") != `"a"\n` {
				t.Fatalf("got %s %q %v; want %s %q %v", g.UUID, g.Payload, g.Metadata, m.UUID, m.Payload, m.Metadata)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no message")
		}
	})
}

// Rows of one key are sent one at a time, in the order written, while
// rows of other keys are pipelined.
func TestPerKeyOrder(t *testing.T) {
	forEachStore(t, func(t *testing.T, d database, db *sql.DB, s *outbox.Store, table string) {
		ctx := context.Background()
		p, target := newProbe(t)
		const keys, per = 5, 40
		for i := range per {
			var ms []*herald.Message
			for k := range keys {
				ms = append(ms, msg(strconv.Itoa(i), fmt.Sprintf("key-%d", k)))
			}
			ms = append(ms, msg("free-"+strconv.Itoa(i), ""))
			write(t, db, s, "orders", ms...)
		}
		r, err := s.NewRelay(openPublisher(t, target), outbox.WithBatch(64))
		if err != nil {
			t.Fatal(err)
		}
		if n, err := r.RunOnce(ctx); n != keys*per+per || err != nil {
			t.Fatalf("RunOnce = %d, %v; want %d", n, err, keys*per+per)
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.maxKey != 1 {
			t.Errorf("%d sends of one key in flight at once; want 1", p.maxKey)
		}
		for k := range keys {
			got := p.byKey[fmt.Sprintf("key-%d", k)]
			if len(got) != per {
				t.Fatalf("key-%d: %d sends", k, len(got))
			}
			for i, v := range got {
				if v != strconv.Itoa(i) {
					t.Fatalf("key-%d: sent in order %v", k, got)
				}
			}
		}
	})
}

// A transaction still open when a later one commits: its rows are not
// skipped; the later transaction's keyless rows go at once, its keyed
// rows wait for the open transaction's rows of that key (PostgreSQL:
// the xmin rule; SQLite has one writer, so no two writing transactions
// are open at once).
func TestOpenTransactionNotSkipped(t *testing.T) {
	ctx := context.Background()
	d := databases()[0]
	db := d.open(t)
	s := newStore(t, db, d.dialect, tableName())
	p, target := newProbe(t)
	r, err := s.NewRelay(openPublisher(t, target))
	if err != nil {
		t.Fatal(err)
	}
	a, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Rollback() //nolint:errcheck
	if err := s.Publish(ctx, a, "orders", msg("a-free", ""), msg("k1", "k")); err != nil {
		t.Fatal(err)
	}
	write(t, db, s, "orders", msg("b-free", ""), msg("k2", "k"))
	if n, err := r.RunOnce(ctx); n != 1 || err != nil {
		t.Fatalf("RunOnce with A open = %d, %v; want 1 (b-free)", n, err)
	}
	p.mu.Lock()
	if len(p.payloads) != 1 || len(p.byKey["k"]) != 0 {
		t.Fatalf("with A open sent %v; want b-free only (k2 waits for A's k1)", p.payloads)
	}
	p.mu.Unlock()
	if err := a.Commit(); err != nil {
		t.Fatal(err)
	}
	if n, err := r.RunOnce(ctx); n != 3 || err != nil {
		t.Fatalf("RunOnce after A committed = %d, %v; want 3", n, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if got := p.byKey["k"]; len(got) != 2 || got[0] != "k1" || got[1] != "k2" {
		t.Fatalf("key k sent %v; want [k1 k2]", got)
	}
	if len(p.payloads) != 4 || p.total != 4 {
		t.Fatalf("sent %v (%d sends); want 4 messages once each", p.payloads, p.total)
	}
}

// Two and three relays on one table: every row is sent, exactly once
// (no failures, leases long), never twice at once, and keys in order.
func TestRelaysShareWork(t *testing.T) {
	for _, relays := range []int{2, 3} {
		t.Run(strconv.Itoa(relays), func(t *testing.T) {
			forEachStore(t, func(t *testing.T, d database, db *sql.DB, s *outbox.Store, table string) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				p, target := newProbe(t)
				pub := openPublisher(t, target)
				const n = 600
				var wg sync.WaitGroup
				for i := range relays {
					h := d.open(t) // a process of its own: its own pool
					rs := newStore(t, h, d.dialect, table)
					r, err := rs.NewRelay(pub, outbox.WithBatch(32), outbox.WithPollInterval(5*time.Millisecond))
					if err != nil {
						t.Fatal(err)
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						if err := r.Run(ctx); err != nil {
							t.Errorf("relay %d: %v", i, err)
						}
					}()
				}
				for i := 0; i < n; i += 20 { // written while the relays run
					write(t, db, s, "orders", numbered(i, 20, func(j int) string {
						if j%2 == 0 {
							return fmt.Sprintf("key-%d", j%6)
						}
						return ""
					})...)
				}
				p.waitDistinct(t, n, time.Minute)
				cancel()
				wg.Wait()
				p.mu.Lock()
				defer p.mu.Unlock()
				if p.maxID != 1 {
					t.Errorf("a message was in flight %d times at once", p.maxID)
				}
				if p.maxKey != 1 {
					t.Errorf("%d messages of one key in flight at once", p.maxKey)
				}
				if p.total != n {
					t.Errorf("%d sends for %d messages; want each once", p.total, n)
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
		})
	}
}

// A relay killed between the broker's acknowledgement and the mark (its
// database closed under it): another relay sends its leased rows once the
// lease expired. Nothing is lost; the duplicates are counted.
func TestRelayKilledMidBatch(t *testing.T) {
	forEachStore(t, func(t *testing.T, d database, db *sql.DB, s *outbox.Store, table string) {
		ctx := context.Background()
		const n = 300
		for i := 0; i < n; i += 50 {
			write(t, db, s, "orders", numbered(i, 50, func(j int) string { return fmt.Sprintf("key-%d", j%10) })...)
		}
		p, target := newProbe(t)
		pub := openPublisher(t, target)
		victim := d.open(t)
		vctx, kill := context.WithCancel(ctx)
		defer kill()
		var once sync.Once
		p.beforeAck = func(k int) {
			if k == 40 {
				once.Do(func() { kill(); victim.Close() })
			}
		}
		const lease = time.Second
		r1, err := newStore(t, victim, d.dialect, table).NewRelay(pub, outbox.WithBatch(32), outbox.WithLease(lease))
		if err != nil {
			t.Fatal(err)
		}
		if err := r1.Run(vctx); err != nil { // returns once killed
			t.Fatal(err)
		}
		killedAt := time.Now()
		r2, err := s.NewRelay(pub, outbox.WithBatch(32), outbox.WithLease(lease), outbox.WithPollInterval(10*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		rctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); r2.Run(rctx) }() //nolint:errcheck
		p.waitDistinct(t, n, time.Minute)
		caughtUp := time.Since(killedAt)
		stop()
		<-done
		st, err := r2.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		dups := p.duplicates()
		t.Logf("%s: %d messages, %d duplicates after the kill, caught up in %v; stats %+v", d.name, n, dups, caughtUp, st)
		if st.Pending != 0 {
			t.Errorf("%d rows still pending", st.Pending)
		}
		if dups < 1 || dups > 32 {
			t.Errorf("%d duplicates; want between 1 (the acknowledged, unmarked row) and the batch (32)", dups)
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.maxID != 1 {
			t.Errorf("a message was in flight %d times at once", p.maxID)
		}
	})
}

// A failed publish is retried after the retry delay; the failure is
// counted, passed to OnError, and the key's later rows wait for it.
func TestPublishFailureRetried(t *testing.T) {
	forEachStore(t, func(t *testing.T, d database, db *sql.DB, s *outbox.Store, table string) {
		ctx := context.Background()
		p, target := newProbe(t)
		failed := false
		p.fail = func(m *herald.Message) error {
			if string(m.Payload) == "0" && !failed {
				failed = true
				return &herald.Error{Backend: "probe", Op: "publish to", Kind: herald.KindUnreachable, Err: fmt.Errorf("injected")}
			}
			return nil
		}
		write(t, db, s, "orders", msg("0", "k"), msg("1", "k"))
		var hooked []error
		r, err := s.NewRelay(openPublisher(t, target), outbox.WithRetryDelay(50*time.Millisecond),
			outbox.WithOnError(func(err error) { hooked = append(hooked, err) }))
		if err != nil {
			t.Fatal(err)
		}
		n, err := r.RunOnce(ctx)
		if n != 0 || err == nil || len(hooked) != 1 {
			t.Fatalf("RunOnce = %d, %v (hook %v); want 0 and the failure", n, err, hooked)
		}
		rctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); r.Run(rctx) }() //nolint:errcheck
		p.waitDistinct(t, 2, 30*time.Second)
		stop()
		<-done
		p.mu.Lock()
		got := p.byKey["k"]
		p.mu.Unlock()
		if len(got) != 3 || got[0] != "0" || got[1] != "0" || got[2] != "1" {
			t.Fatalf("key k sent %v; want [0 0 1] (the failed one again before the next)", got)
		}
		if st, _ := r.Stats(ctx); st.Failures != 1 {
			t.Fatalf("stats %+v; want 1 failure", st)
		}
	})
}

// Retention: sent rows are deleted after their age; 0 deletes them when
// sent. Stats reports pending rows and the oldest's age.
func TestRetentionAndStats(t *testing.T) {
	forEachStore(t, func(t *testing.T, d database, db *sql.DB, s *outbox.Store, table string) {
		ctx := context.Background()
		_, target := newProbe(t)
		write(t, db, s, "orders", msg("1", ""), msg("2", ""))
		r, err := s.NewRelay(openPublisher(t, target), outbox.WithRetention(0))
		if err != nil {
			t.Fatal(err)
		}
		st, err := r.Stats(ctx)
		if err != nil || st.Pending != 2 || st.Oldest <= 0 {
			t.Fatalf("Stats = %+v, %v; want 2 pending, an age", st, err)
		}
		if n, err := r.RunOnce(ctx); n != 2 || err != nil {
			t.Fatalf("RunOnce = %d, %v", n, err)
		}
		if c := count(t, db, "SELECT count(*) FROM "+table); c != 0 {
			t.Fatalf("retention 0: %d rows left", c)
		}
		st, _ = r.Stats(ctx)
		if st.Pending != 0 || st.Oldest != 0 || st.Relayed != 2 {
			t.Fatalf("Stats = %+v; want 0 pending, 2 relayed", st)
		}
	})
}

func count(t *testing.T, db *sql.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// With a Notifier (LISTEN/NOTIFY through pgx), a commit wakes an idle
// relay long before its poll interval (an hour here).
func TestNotifyWakesRelay(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := databases()[0]
	db := d.open(t)
	table := tableName()
	s := newStore(t, db, d.dialect, table)
	p, target := newProbe(t)
	r, err := s.NewRelay(openPublisher(t, target), outbox.WithPollInterval(time.Hour), outbox.WithNotifier(newPGNotifier(t, table)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }() //nolint:errcheck
	for i := range 3 {
		start := time.Now()
		write(t, db, s, "orders", msg(strconv.Itoa(i), ""))
		p.waitDistinct(t, i+1, 30*time.Second)
		t.Logf("commit to acknowledgement: %v", time.Since(start))
	}
	cancel()
	<-done
}

// Through a real broker (NATS JetStream): every committed row reaches
// the subscriber, once.
func TestRelayToNATS(t *testing.T) {
	url := adaptertest.BrokerURL(t, "HERALD_TEST_NATS")
	forEachStore(t, func(t *testing.T, d database, db *sql.DB, s *outbox.Store, table string) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		topic := "outbox." + table
		sub, err := subscriber.Open(ctx, url, subscriber.WithGroup(table))
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		if err := sub.Prepare(ctx, topic); err != nil {
			t.Fatal(err)
		}
		const n = 200
		var mu sync.Mutex
		seen := map[string]int{}
		all := make(chan struct{})
		go sub.Subscribe(ctx, topic, func(_ context.Context, m *herald.Message) error { //nolint:errcheck
			mu.Lock()
			defer mu.Unlock()
			seen[m.UUID]++
			if len(seen) == n && seen[m.UUID] == 1 {
				close(all)
			}
			return nil
		})
		r, err := s.NewRelay(openPublisher(t, url))
		if err != nil {
			t.Fatal(err)
		}
		rdone := make(chan struct{})
		go func() { defer close(rdone); r.Run(ctx) }() //nolint:errcheck
		for i := 0; i < n; i += 10 {
			write(t, db, s, topic, numbered(i, 10, func(j int) string { return fmt.Sprintf("k%d", j%4) })...)
		}
		select {
		case <-all:
		case <-time.After(time.Minute):
			mu.Lock()
			t.Fatalf("%d of %d messages received", len(seen), n)
		}
		cancel()
		<-rdone
		mu.Lock()
		defer mu.Unlock()
		for id, c := range seen {
			if c != 1 {
				t.Errorf("%s received %d times", id, c)
			}
		}
	})
}
