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

// Sent rows are deleted once older than the retention while the relay is
// busy, not only when it falls idle: under a steady flow of rows (a
// broker whose answers keep some always in flight) a relay that purges
// only when idle never purges, and the table grows without bound.
func TestRetentionPurgesWhileBusy(t *testing.T) {
	forEachStore(t, func(t *testing.T, d database, db *sql.DB, s *outbox.Store, table string) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		p, target := newProbe(t)
		p.ackDelay = 200 * time.Millisecond
		r, err := s.NewRelay(openPublisher(t, target), outbox.WithRetention(500*time.Millisecond),
			outbox.WithPollInterval(5*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Go(func() { r.Run(ctx) }) //nolint:errcheck // ends with ctx
		// Writers keep rows coming faster than the broker answers.
		wctx, stopWriting := context.WithCancel(ctx)
		var writing sync.WaitGroup
		writing.Go(func() {
			for i := 0; wctx.Err() == nil; i++ {
				write(t, db, s, "orders", msg(strconv.Itoa(i), ""))
				time.Sleep(2 * time.Millisecond)
			}
		})
		time.Sleep(4 * time.Second)
		// Rows sent over 2.5 s ago: five retentions, more than twice the
		// purge interval (1 s).
		old := count(t, db, "SELECT count(*) FROM "+table+" WHERE sent_at IS NOT NULL AND sent_at < "+ago(d, 2500*time.Millisecond))
		stopWriting()
		writing.Wait()
		cancel()
		wg.Wait()
		if old > 0 {
			t.Fatalf("%d rows sent more than 2.5 s ago still kept with a retention of 500 ms while the relay was busy; want 0", old)
		}
	})
}

// ago is the SQL of the time d before now, in d's column type.
func ago(d database, age time.Duration) string {
	if d.dialect == outbox.PostgreSQL {
		return "now() - interval '" + strconv.FormatInt(age.Milliseconds(), 10) + " milliseconds'"
	}
	return strconv.FormatInt(time.Now().Add(-age).UnixMilli(), 10)
}
