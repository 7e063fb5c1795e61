package main

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldkit/herald/adapters/adaptertest"
)

// Both handlers write every valid message once and dead-letter the
// invalid ones; the batch handler does it in far fewer transactions (and
// database round trips), on SQLite and on PostgreSQL
// (HERALD_TEST_POSTGRES: skipped when unset, failed under
// HERALD_REQUIRE_BROKERS=1).
func TestBatchSink(t *testing.T) {
	for _, c := range []struct {
		name string
		db   func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "events.db") }},
		{"postgresql", func(t *testing.T) string { return adaptertest.BrokerURL(t, "HERALD_TEST_POSTGRES") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := config{url: "embedded://" + t.TempDir(), db: c.db(t), n: 600, size: 100, wait: 20 * time.Millisecond,
				modes: []string{"single", "batch"}, bad: 100}
			var out bytes.Buffer
			res, err := run(context.Background(), cfg, &out)
			if err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			if len(res) != 2 {
				t.Fatalf("%d results, want 2:\n%s", len(res), out.String())
			}
			for _, r := range res {
				if r.rows != 594 || r.deadLettered != 6 {
					t.Errorf("%s: %d rows, %d dead-lettered; want 594 and 6", r.mode, r.rows, r.deadLettered)
				}
				if r.roundTrips != 3*r.transactions {
					t.Errorf("%s: %d round trips for %d transactions, want 3 each", r.mode, r.roundTrips, r.transactions)
				}
			}
			if single, batch := res[0], res[1]; single.transactions != 594 || batch.transactions > 594/50 {
				t.Errorf("transactions: single %d (want 594), batch %d (want at most %d: batches of up to 100)", single.transactions, batch.transactions, 594/50)
			}
			t.Log(out.String())
		})
	}
}
