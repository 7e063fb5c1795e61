package outboxtest

import (
	"context"
	"database/sql"
	"os"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/outbox"
)

// TestMeasureRelay prints the rows/s of writing and relaying 1 KiB rows
// (transactions of 100 rows, then one relay forwarding all of them to
// mem://, rows deleted when sent). It runs with HERALD_OUTBOX_MEASURE=1
// only and asserts only that every row was relayed:
//
//	cd outbox/outboxtest && HERALD_OUTBOX_MEASURE=1 go test -run MeasureRelay -v .
func TestMeasureRelay(t *testing.T) {
	if os.Getenv("HERALD_OUTBOX_MEASURE") != "1" {
		t.Skip("HERALD_OUTBOX_MEASURE=1 runs it")
	}
	forEachStore(t, func(t *testing.T, d database, db *sql.DB, s *outbox.Store, table string) {
		ctx := context.Background()
		const n, per = 20000, 100
		payload := make([]byte, 1024)
		start := time.Now()
		for range n / per {
			ms := make([]*herald.Message, per)
			for j := range ms {
				ms[j] = herald.NewMessage(payload)
			}
			write(t, db, s, "orders", ms...)
		}
		w := time.Since(start)
		r, err := s.NewRelay(openPublisher(t, "mem://"+table), outbox.WithRetention(0))
		if err != nil {
			t.Fatal(err)
		}
		start = time.Now()
		got, err := r.RunOnce(ctx)
		if err != nil || got != n {
			t.Fatalf("RunOnce = %d, %v", got, err)
		}
		rl := time.Since(start)
		t.Logf("%s: write %.0f rows/s (transactions of %d), relay %.0f rows/s", d.name, n/w.Seconds(), per, n/rl.Seconds())
	})
}
