package outbox_test

import (
	"context"
	"expvar"
	"time"

	"github.com/heraldkit/herald/outbox"
)

// Export a relay's Stats to your metrics every 10 s: gauges for the rows
// pending and the age of the oldest, counters for the rows relayed and
// the failures, and relayed/s derived from two readings of the Relayed
// counter. With Prometheus, export Relayed and Failures as counters
// (prometheus.NewCounterFunc) and let PromQL derive the rate:
// rate(outbox_relayed_rows_total[1m]). Relayed and Failures count this
// relay since it was made (sum them over your relays); Pending and Oldest
// are the table's, whoever relays it.
func ExampleRelay_Stats() {
	var relay *outbox.Relay // store.NewRelay(pub, ...)
	ctx := context.Background()

	pending := expvar.NewInt("outbox_pending_rows")
	oldest := expvar.NewFloat("outbox_oldest_pending_seconds")
	inflight := expvar.NewInt("outbox_in_flight_rows")
	relayed := expvar.NewInt("outbox_relayed_rows_total")
	failures := expvar.NewInt("outbox_failures_total")
	perSecond := expvar.NewFloat("outbox_relayed_rows_per_second")

	go func() {
		tick := time.NewTicker(10 * time.Second)
		defer tick.Stop()
		last, lastAt := int64(0), time.Now()
		for range tick.C {
			st, err := relay.Stats(ctx) // the counters are set even when err != nil
			now := time.Now()
			if err == nil {
				pending.Set(st.Pending)
				oldest.Set(st.Oldest.Seconds())
			}
			inflight.Set(st.InFlight)
			relayed.Set(st.Relayed)
			failures.Set(st.Failures)
			perSecond.Set(float64(st.Relayed-last) / now.Sub(lastAt).Seconds())
			last, lastAt = st.Relayed, now
		}
	}()
}
