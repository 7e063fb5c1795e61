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
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/heraldkit/herald/outbox/outboxtest/faults"
)

func main() {
	faults.RunRelayIfChild()
	c := faults.DefaultConfig()
	cases := flag.String("cases", strings.Join(faults.AllCases, ","), "cases, comma-separated")
	dbs := flag.String("dbs", strings.Join(faults.AllDatabases, ","), "databases, comma-separated: postgresql, sqlite")
	short := flag.Bool("short", false, "the settings of the subset make test runs (shorter phases, lease 1s)")
	asJSON := flag.Bool("json", false, "print JSON instead of the markdown table")
	fromJSON := flag.Bool("table", false, "print the table of the JSON result files given as arguments (earlier -json runs) and exit")
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
	if *short { // ShortConfig's settings, where no flag gave one
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		sc := faults.ShortConfig()
		for _, f := range []struct {
			name     string
			dst, src any
		}{
			{"writers", &c.Writers, sc.Writers}, {"rate", &c.Rate, sc.Rate}, {"keys", &c.Keys, sc.Keys},
			{"warmup", &c.Warmup, sc.Warmup}, {"after", &c.After, sc.After}, {"kills", &c.Kills, sc.Kills},
			{"gap", &c.Gap, sc.Gap}, {"restarts", &c.Restarts, sc.Restarts}, {"down", &c.Down, sc.Down},
			{"lease", &c.Lease, sc.Lease}, {"publish-timeout", &c.PublishTimeout, sc.PublishTimeout},
			{"retry-delay", &c.RetryDelay, sc.RetryDelay}, {"batch", &c.Batch, sc.Batch}, {"drain", &c.Drain, sc.Drain},
		} {
			if set[f.name] {
				continue
			}
			switch d := f.dst.(type) {
			case *int:
				*d = f.src.(int)
			case *time.Duration:
				*d = f.src.(time.Duration)
			}
		}
	}
	if *fromJSON {
		if err := printTable(flag.Args()); err != nil {
			fmt.Fprintln(os.Stderr, "outbox-faults:", err)
			os.Exit(1)
		}
		return
	}
	start := time.Now()
	rs := faults.Run(c, split(*cases), split(*dbs))
	var err error
	if *asJSON {
		err = faults.WriteJSON(os.Stdout, rs)
	} else {
		fmt.Printf("\n%s, %.0f s: outbox-faults %s\n\n", start.UTC().Format("2006-01-02 15:04 MST"),
			time.Since(start).Seconds(), strings.Join(os.Args[1:], " "))
		err = faults.WriteTable(os.Stdout, rs)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "outbox-faults:", err)
		os.Exit(1)
	}
	for _, r := range rs {
		if !r.OK() {
			os.Exit(1)
		}
	}
}

// printTable prints the results of JSON files written with -json as one
// table.
func printTable(files []string) error {
	var all []faults.Result
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var rs []faults.Result
		if err := json.Unmarshal(b, &rs); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		all = append(all, rs...)
	}
	return faults.WriteTable(os.Stdout, all)
}

func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
