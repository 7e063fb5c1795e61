// Command outbox-faults runs the outbox's fault suite (package
// outbox/outboxtest/faults) and prints a markdown table of committed
// messages lost, rolled-back messages published, duplicates and the time
// to catch up after each fault, per case and database.
//
//	go run ./faults/cmd/outbox-faults                    # every case (in outbox/outboxtest)
//	go run ./faults/cmd/outbox-faults -short             # the subset make test runs
//	go run ./faults/cmd/outbox-faults -cases relay-kill -dbs sqlite -json > run.json
//	go run ./faults/cmd/outbox-faults -table run.json    # the table of earlier -json runs
//
// It exits 1 when a case lost a committed message, published a
// rolled-back one or could not run.
package main

import (
	"flag"
	"strings"
	"time"

	"github.com/heraldkit/herald/internal/faultkit"
	"github.com/heraldkit/herald/outbox/outboxtest/faults"
)

func main() {
	faults.RunRelayIfChild()
	c := faults.DefaultConfig()
	out := faultkit.NewOutput("outbox-faults", faults.WriteTable)
	cases := flag.String("cases", strings.Join(faults.AllCases, ","), "cases, comma-separated")
	dbs := flag.String("dbs", strings.Join(faults.AllDatabases, ","), "databases, comma-separated: postgresql, sqlite")
	short := flag.Bool("short", false, "the settings of the subset make test runs (shorter phases, lease 1s)")
	flag.IntVar(&c.Writers, "writers", c.Writers, "goroutines running transactions")
	flag.IntVar(&c.Rate, "rate", c.Rate, "messages per second written (committed and rolled back)")
	flag.IntVar(&c.Keys, "keys", c.Keys, "distinct message keys (one message in four has none)")
	flag.DurationVar(&c.Warmup, "warmup", c.Warmup, "writing before the first fault")
	flag.DurationVar(&c.After, "after", c.After, "writing after the last fault")
	flag.IntVar(&c.Kills, "kills", c.Kills, "relay kills per case (relay-kill, relays-N)")
	flag.DurationVar(&c.Gap, "gap", c.Gap, "time between two faults of a case")
	flag.IntVar(&c.Restarts, "restarts", c.Restarts, "database or broker restarts per case (db-restart, broker-down)")
	flag.DurationVar(&c.Down, "down", c.Down, "how long the database or the broker stays down")
	flag.DurationVar(&c.Lease, "lease", c.Lease, "the relays' lease (outbox.WithLease)")
	flag.DurationVar(&c.PublishTimeout, "publish-timeout", c.PublishTimeout, "the relays' publish timeout (below the lease)")
	flag.DurationVar(&c.RetryDelay, "retry-delay", c.RetryDelay, "the relays' retry delay (outbox.WithRetryDelay)")
	flag.IntVar(&c.Batch, "batch", c.Batch, "the relays' batch (outbox.WithBatch)")
	flag.DurationVar(&c.Drain, "drain", c.Drain, "wait after the writers for every committed message")
	flag.StringVar(&c.Dir, "dir", "", "directory for the servers' data and the SQLite files (default: a temporary one, removed)")
	flag.Parse()
	out.TableOnly()
	if *short { // ShortConfig's settings, where no flag gave one
		g, sc := faultkit.Given(), faults.ShortConfig()
		faultkit.Default(g, "writers", &c.Writers, sc.Writers)
		faultkit.Default(g, "rate", &c.Rate, sc.Rate)
		faultkit.Default(g, "keys", &c.Keys, sc.Keys)
		faultkit.Default(g, "warmup", &c.Warmup, sc.Warmup)
		faultkit.Default(g, "after", &c.After, sc.After)
		faultkit.Default(g, "kills", &c.Kills, sc.Kills)
		faultkit.Default(g, "gap", &c.Gap, sc.Gap)
		faultkit.Default(g, "restarts", &c.Restarts, sc.Restarts)
		faultkit.Default(g, "down", &c.Down, sc.Down)
		faultkit.Default(g, "lease", &c.Lease, sc.Lease)
		faultkit.Default(g, "publish-timeout", &c.PublishTimeout, sc.PublishTimeout)
		faultkit.Default(g, "retry-delay", &c.RetryDelay, sc.RetryDelay)
		faultkit.Default(g, "batch", &c.Batch, sc.Batch)
		faultkit.Default(g, "drain", &c.Drain, sc.Drain)
	}
	start := time.Now()
	rs := faults.Run(c, faultkit.Split(*cases), faultkit.Split(*dbs))
	out.Finish(rs, start, "outbox-faults")
}
