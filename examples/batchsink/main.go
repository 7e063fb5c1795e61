// Command batchsink consumes events into a database table twice, once
// with a per-message handler (a transaction per message) and once with a
// batch handler (subscriber.SubscribeBatch: one transaction and one
// multi-row INSERT per batch), and reports for each the messages per
// second and the database round trips.
//
//	go run ./batchsink                                  # embedded broker, SQLite
//	go run ./batchsink -db postgres://postgres@127.0.0.1:5433/postgres
//	go run ./batchsink -url kafka://127.0.0.1:9092 -n 50000 -batch 500 -concurrency 8
//
// The batch handler also shows per-message results: a payload that is
// not valid is dead-lettered (middleware.BatchDeadLetter, to
// "<topic>.dlq") and left out of the INSERT, while the rest of its batch
// is committed; a failed transaction returns an error, which retries the
// whole batch. The inserts are idempotent (the message ID is the primary
// key), since delivery is at-least-once.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/heraldkit/herald"
	_ "github.com/heraldkit/herald/adapters/all"
	"github.com/heraldkit/herald/examples/internal/appdb"
	"github.com/heraldkit/herald/middleware"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// config is what a run does.
type config struct {
	url   string        // the Herald backend
	db    string        // the database URL ("" for EXAMPLE_DB_URL, else a SQLite file)
	n     int           // messages per mode
	size  int           // batch size
	wait  time.Duration // batch wait
	modes []string      // "single", "batch"
	bad   int           // every bad-th message is not valid (0: none)
	conc  int           // WithConcurrency: handlers (single) or batches (batch) at once
}

func main() {
	var c config
	var modes string
	flag.StringVar(&c.url, "url", "", "Herald backend URL (default: an embedded broker in a temporary directory)")
	flag.StringVar(&c.db, "db", "", "database: a postgres:// URL or a SQLite file (default: $"+appdb.Env+", else a SQLite file in a temporary directory)")
	flag.IntVar(&c.n, "n", 20000, "messages consumed per mode")
	flag.IntVar(&c.size, "batch", 200, "batch size of the batch handler")
	flag.DurationVar(&c.wait, "wait", 20*time.Millisecond, "batch wait of the batch handler")
	flag.StringVar(&modes, "modes", "single,batch", "modes to run, comma-separated: single, batch")
	flag.IntVar(&c.conc, "concurrency", 1, "handlers (single) or batches (batch) at once")
	flag.IntVar(&c.bad, "bad", 0, "make every bad-th message invalid, to show dead-lettering (0: none)")
	flag.Parse()
	c.modes = strings.Split(modes, ",")
	if _, err := run(context.Background(), c, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "batchsink:", err)
		os.Exit(1)
	}
}

// result is what one mode measured.
type result struct {
	mode         string
	rows         int64
	elapsed      time.Duration
	transactions int64
	roundTrips   int64
	deadLettered int64
}

func (r result) String() string {
	return fmt.Sprintf("%-6s rows=%d dead_lettered=%d elapsed=%v msg/s=%.0f transactions=%d round_trips=%d rows/transaction=%.1f",
		r.mode, r.rows, r.deadLettered, r.elapsed.Round(time.Millisecond), float64(r.rows+r.deadLettered)/r.elapsed.Seconds(),
		r.transactions, r.roundTrips, float64(r.rows)/float64(max(r.transactions, 1)))
}

// run runs c's modes, printing and returning what each measured.
func run(ctx context.Context, c config, out io.Writer) ([]result, error) {
	if c.url == "" {
		dir, err := os.MkdirTemp("", "batchsink-broker-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		c.url = "embedded://" + dir
	}
	dbFile := filepath.Join(os.TempDir(), "batchsink", "events.db")
	db, err := appdb.Open(ctx, c.db, dbFile)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	fmt.Fprintf(out, "backend %s, database %s, %d messages per mode, concurrency %d, batch %d / %v\n", redact(c.url), db.Dialect, c.n, max(c.conc, 1), c.size, c.wait)
	var all []result
	for _, mode := range c.modes {
		res, err := runMode(ctx, c, db, strings.TrimSpace(mode))
		if err != nil {
			return all, fmt.Errorf("%s: %w", mode, err)
		}
		fmt.Fprintln(out, res)
		all = append(all, res)
	}
	return all, nil
}

// redact drops a URL's password from the output.
func redact(url string) string {
	cfg, err := herald.Resolve(url)
	if err != nil {
		return "(invalid URL)"
	}
	return cfg.String()
}

// runMode publishes c.n messages to a new topic, then consumes them into
// a new table with the mode's handler, timing from the first message
// handled to the last row committed.
func runMode(ctx context.Context, c config, db *appdb.DB, mode string) (result, error) {
	res := result{mode: mode}
	if mode != "single" && mode != "batch" {
		return res, fmt.Errorf("unknown mode %q (allowed: single, batch)", mode)
	}
	suffix := fmt.Sprintf("%s_%d", mode, time.Now().UnixNano())
	topic, table := "batchsink."+suffix, "batchsink_"+suffix
	if _, err := db.ExecContext(ctx, "CREATE TABLE "+table+" (id TEXT PRIMARY KEY, payload TEXT NOT NULL)"); err != nil {
		return res, err
	}
	defer db.ExecContext(context.WithoutCancel(ctx), "DROP TABLE "+table) //nolint:errcheck // best effort

	pub, err := publisher.Open(ctx, c.url)
	if err != nil {
		return res, err
	}
	defer pub.Close()
	opts := []subscriber.Option{subscriber.WithGroup("batchsink"), subscriber.WithDrainTimeout(10 * time.Second),
		subscriber.WithConcurrency(max(c.conc, 1))}
	s := &sink{db: db, table: table, want: int64(c.n), done: make(chan struct{})}
	dead := middleware.OnDeadLetter(func(context.Context, middleware.Event) { s.count(0, 1) })
	if mode == "single" {
		opts = append(opts, subscriber.WithMiddleware(middleware.DeadLetter(pub, "{topic}.dlq", dead)))
	}
	sub, err := subscriber.Open(ctx, c.url, opts...)
	if err != nil {
		return res, err
	}
	defer sub.Close()
	if err := sub.Prepare(ctx, topic); err != nil {
		return res, err
	}
	if err := publishAll(ctx, pub, topic, c); err != nil {
		return res, err
	}

	sctx, stop := context.WithCancel(ctx)
	defer stop()
	errc := make(chan error, 1)
	go func() {
		if mode == "single" {
			errc <- sub.Subscribe(sctx, topic, s.single)
		} else {
			errc <- sub.SubscribeBatch(sctx, topic, s.batch, subscriber.BatchSize(c.size), subscriber.BatchWait(c.wait),
				subscriber.BatchMiddleware(middleware.BatchDeadLetter(pub, "{topic}.dlq", dead)))
		}
	}()
	select {
	case <-s.done:
	case err := <-errc:
		return res, fmt.Errorf("subscribe returned early: %w", err)
	case <-time.After(10 * time.Minute):
		return res, errors.New("not all messages consumed within 10 minutes")
	}
	res.elapsed = time.Since(time.Unix(0, s.first.Load()))
	stop()
	if err := <-errc; err != nil {
		return res, err
	}
	res.rows, res.deadLettered = s.rows.Load(), s.dead.Load()
	res.transactions, res.roundTrips = s.txs.Load(), s.trips.Load()
	return res, nil
}

// publishAll publishes c.n messages, 500 per Publish call.
func publishAll(ctx context.Context, pub *publisher.Publisher, topic string, c config) error {
	const chunk = 500
	for i := 0; i < c.n; i += chunk {
		msgs := make([]*herald.Message, 0, chunk)
		for j := i; j < min(i+chunk, c.n); j++ {
			payload := fmt.Sprintf(`{"event":%d,"kind":"page_view"}`, j)
			if c.bad > 0 && j%c.bad == c.bad-1 {
				payload = "not json"
			}
			msgs = append(msgs, herald.NewMessage([]byte(payload)))
		}
		if err := pub.Publish(ctx, topic, msgs...); err != nil {
			return err
		}
	}
	return nil
}
