package outboxtest

import (
	"context"
	"database/sql"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald/outbox"
)

// A broker that answers after three leases: the relay renews the leases
// of the rows it is waiting on, so a second relay polling the same table
// never takes one over while the first still holds it. Every row is sent
// once: 0 duplicates, never two sends of a row in flight. The lease is
// 500 ms (renewed every 167 ms): with 200 ms, renewals waiting behind the
// other relay's claims for SQLite's write lock under -race on a loaded
// machine lost a lease (CI: 22 sends of 20 messages).
func TestSlowAnswerKeepsLease(t *testing.T) {
	forEachStore(t, func(t *testing.T, d database, db *sql.DB, s *outbox.Store, table string) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		const n, lease = 20, 500 * time.Millisecond
		write(t, db, s, "orders", numbered(0, n, func(i int) string {
			if i%2 == 0 {
				return "k" + strconv.Itoa(i%10) // two rows a key: two answers in a row
			}
			return ""
		})...)
		p, target := newProbe(t)
		p.ackDelay = 3 * lease
		pub := openPublisher(t, target)
		var wg sync.WaitGroup
		for i := range 2 {
			r, err := newStore(t, d.open(t), d.dialect, table).NewRelay(pub,
				outbox.WithLease(lease), outbox.WithPollInterval(20*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			wg.Go(func() {
				if err := r.Run(ctx); err != nil {
					t.Errorf("relay %d: %v", i, err)
				}
			})
		}
		p.waitDistinct(t, n, time.Minute)
		cancel()
		wg.Wait() // each relay waits for what it has in flight
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.maxID != 1 || p.total != n {
			t.Fatalf("%d sends of %d messages, at most %d of one in flight; want each once (0 duplicates)", p.total, n, p.maxID)
		}
		if c := count(t, db, "SELECT count(*) FROM "+table+" WHERE sent_at IS NULL"); c != 0 {
			t.Fatalf("%d rows not marked sent", c)
		}
	})
}
