package outboxtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/heraldkit/herald/outbox"
)

// A backlog of keyed rows over few keys (what a relay finds after an
// outage) drains in time linear in its size: a claim must not read every
// unsent row when fewer than its limit are ready (here 16, one per key).
// Eight times the rows may take at most 20 times as long (linear: 8; a
// claim reading the whole backlog: 43-67 times, PostgreSQL and SQLite,
// before the claim looked at a bounded set of candidates). Under -race
// the SQLite case is skipped: the race detector slows modernc.org/sqlite
// some fifteen-fold (8000 rows took 40 s); scripts/test.sh (make test)
// runs it again without -race (norace_tests).
func TestKeyedBacklogDrainsLinearly(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a timed drain of 9000 rows")
	}
	forEach(t, func(t *testing.T, d database, table string) {
		if raceEnabled && d.dialect == outbox.SQLite {
			t.Skip("-race: SQLite too slow under the race detector; scripts/test.sh runs it without -race")
		}
		drain := func(n int) time.Duration {
			db := d.open(t)
			tbl := tableName()
			s := newStore(t, db, d.dialect, tbl)
			for i := 0; i < n; i += 250 {
				write(t, db, s, "orders", numbered(i, 250, func(j int) string { return fmt.Sprintf("key-%d", j%16) })...)
			}
			p, target := newProbe(t)
			r, err := s.NewRelay(openPublisher(t, target), outbox.WithBatch(64))
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			got, err := r.RunOnce(context.Background())
			took := time.Since(start)
			if err != nil || got != n {
				t.Fatalf("RunOnce = %d, %v; want %d, nil", got, err, n)
			}
			if p.duplicates() != 0 {
				t.Fatalf("%d duplicates", p.duplicates())
			}
			t.Logf("%d rows over 16 keys relayed in %v (%.0f rows/s)", n, took, float64(n)/took.Seconds())
			return took
		}
		small, large := drain(1000), drain(8000)
		if ratio := float64(large) / float64(small); ratio > 20 {
			t.Errorf("8000 rows took %.1f times as long as 1000 (%v, %v); want at most 20 (linear: 8)", ratio, large, small)
		}
	})
}
