package faults

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/heraldkit/herald/outbox"
)

// Result is one case's outcome on one database.
type Result struct {
	Case     string `json:"case"`
	Database string `json:"database"`
	Relays   int    `json:"relays"`
	Faults   int    `json:"faults"`    // kills or restarts applied
	MidBatch int    `json:"mid_batch"` // kills right after the relay handed a message to the broker
	Figures
	RelayCPUSec float64 `json:"relay_cpu_s"` // CPU time of every relay process of the case
	DurationSec float64 `json:"duration_s"`
	Error       string  `json:"error,omitempty"` // the case could not run, a process failed, or diagnostics of lost messages
}

// OK reports whether the case ran, lost no committed message and
// published no rolled-back one.
func (r Result) OK() bool {
	return r.Error == "" && r.Lost == 0 && r.RolledBackPublished == 0 && r.Committed > 0
}

// env is the servers of a suite: a nats-server always, a PostgreSQL when
// a case runs on it.
type env struct {
	dir  string
	nats *natsServer
	pg   *postgres
}

// Run runs each case on each database it applies to (Applies) and
// returns the results in that order. A case that cannot run has Error
// set; the others still run.
func Run(c Config, cases, dbs []string) []Result {
	c.fill()
	e, err := setup(&c, cases, dbs)
	if err != nil {
		return []Result{{Error: err.Error()}}
	}
	defer e.close(&c)
	var out []Result
	for _, name := range cases {
		for _, db := range dbs {
			if !Applies(name, db) {
				continue
			}
			r := runCase(&c, e, name, db)
			c.logf("%s %s: %s", name, db, r.summary())
			out = append(out, r)
		}
	}
	return out
}

func setup(c *Config, cases, dbs []string) (*env, error) {
	e := &env{dir: c.Dir}
	if e.dir == "" {
		d, err := os.MkdirTemp("", "outbox-faults-")
		if err != nil {
			return nil, err
		}
		e.dir = d
	} else if err := os.MkdirAll(e.dir, 0o755); err != nil {
		return nil, err
	}
	fail := func(err error) (*env, error) { e.close(c); return nil, err }
	bin := c.NATSServer
	if bin == "" {
		var err error
		if bin, err = NATSServerBinary(); err != nil {
			return fail(err)
		}
	}
	n, err := newNATSServer(bin, filepath.Join(e.dir, "nats"))
	if err != nil {
		return fail(err)
	}
	if err := n.start(); err != nil {
		return fail(err)
	}
	e.nats = n
	pg := slices.Contains(dbs, PostgreSQL) && slices.ContainsFunc(cases, func(name string) bool { return Applies(name, PostgreSQL) })
	if pg {
		dir := c.PGBin
		if dir == "" {
			if dir, err = PGBinDir(); err != nil {
				return fail(err)
			}
		}
		p, err := newPostgres(dir, filepath.Join(e.dir, "pg"))
		if err != nil {
			return fail(err)
		}
		if err := p.start(); err != nil {
			return fail(err)
		}
		e.pg = p
		c.logf("PostgreSQL on 127.0.0.1:%d, nats-server on %s, in %s", p.port, n.addr(), e.dir)
	}
	return e, nil
}

func (e *env) close(c *Config) {
	e.pg.close()
	if e.nats != nil {
		e.nats.kill()
	}
	if c.Dir == "" && e.dir != "" {
		_ = os.RemoveAll(e.dir)
	}
}

func (r Result) summary() string {
	if r.Error != "" && r.Committed == 0 {
		return "not run: " + r.Error
	}
	s := fmt.Sprintf("committed %d, rolled back %d, lost %d, rolled-back published %d, duplicates %d, in doubt %d, catch-up %.1fs, %.0fs",
		r.Committed, r.RolledBack, r.Lost, r.RolledBackPublished, r.Duplicates, r.InDoubt, r.CatchUpSec, r.DurationSec)
	if r.Error != "" {
		s += ": " + r.Error
	}
	return s
}

func runCase(c *Config, e *env, name, db string) Result {
	start := time.Now()
	r := Result{Case: name, Database: db, Relays: relaysOf(name)}
	fail := func(err error) Result {
		r.Error = err.Error()
		r.DurationSec = time.Since(start).Seconds()
		return r
	}
	id := fmt.Sprintf("%08x", rand.Uint32())
	table := "of_" + strings.ReplaceAll(name, "-", "_") + "_" + id
	topic := "outbox-faults." + name + "." + db + "." + id
	rc := relayConfig{Table: table, URL: e.nats.URL(), Lease: c.Lease, RetryDelay: c.RetryDelay,
		PublishTimeout: c.PublishTimeout, Batch: c.Batch}
	dialect := outbox.PostgreSQL
	switch db {
	case PostgreSQL:
		if e.pg == nil {
			return fail(fmt.Errorf("no PostgreSQL"))
		}
		rc.Driver, rc.DSN = "pgx", e.pg.DSN()
	case SQLite:
		dialect = outbox.SQLite
		rc.Driver = "sqlite"
		rc.DSN = "file:" + filepath.Join(e.dir, table+".db") + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"
	default:
		return fail(fmt.Errorf("database %q: unknown (allowed: %v)", db, AllDatabases))
	}
	h, err := sql.Open(rc.Driver, rc.DSN)
	if err != nil {
		return fail(err)
	}
	defer h.Close()
	h.SetMaxOpenConns(c.Writers + 2)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := outbox.New(ctx, h, dialect, outbox.WithTable(table))
	if err != nil {
		return fail(err)
	}
	t := newTally()
	log := slog.New(slog.NewTextHandler(c.Log, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cons, err := startConsumer(e.nats.URL(), topic, "of-"+id, t, log)
	if err != nil {
		return fail(err)
	}
	var all []*relayProc // every relay process of the case, for its CPU time
	cr := &caseRun{c: c, env: e, t: t, pg: db == PostgreSQL}
	cr.start = func() (*relayProc, error) {
		p, err := startRelay(c.Exe, c.Args, rc, time.Minute)
		if err == nil {
			all = append(all, p)
		}
		return p, err
	}
	var errs []string
	defer func() {
		for _, p := range cr.relays {
			_ = p.Stop(15 * time.Second)
		}
	}()
	for range r.Relays {
		p, err := cr.start()
		if err != nil {
			_ = cons.close()
			return fail(err)
		}
		cr.relays = append(cr.relays, p)
	}
	m := defaultMix
	if name == CaseRollback {
		m = rollbackMix(db == PostgreSQL)
	}
	c.logf("%s %s: %d relay processes, %d writers at %d msg/s, table %s", name, db, r.Relays, c.Writers, c.Rate, table)
	w := startWriters(h, s, topic, c.Writers, c.Rate, c.Keys, m, t)
	stopProgress := progress(c, h, table, t)
	defer stopProgress()
	time.Sleep(c.Warmup)
	ends, ferr := cr.fault(name)
	if ferr != nil {
		errs = append(errs, ferr.Error())
	}
	time.Sleep(c.After)
	w.stop()
	if name == CaseRollback {
		ends = []time.Time{time.Now()}
	}
	c.logf("%s %s: writers stopped; waiting up to %v for %d committed messages not delivered yet", name, db, c.Drain, t.missing())
	deadline := time.Now().Add(c.Drain)
	waitDelivered(t, deadline)
	if err := waitSent(h, table, deadline); err != nil {
		errs = append(errs, err.Error())
	}
	for _, p := range cr.relays {
		if err := p.Check(); err != nil {
			errs = append(errs, err.Error())
		}
	}
	for _, p := range cr.relays {
		if err := p.Stop(15 * time.Second); err != nil {
			errs = append(errs, err.Error())
		}
	}
	cr.relays = nil
	waitQuiet(t)
	if err := cons.close(); err != nil {
		errs = append(errs, "consumer: "+err.Error())
	}
	stored, err := storedIDs(h, table)
	if err != nil {
		errs = append(errs, err.Error())
	}
	if bad := t.resolve(func(seq int) bool { return stored[seq] }); len(bad) > 0 {
		errs = append(errs, fmt.Sprintf("%d rolled-back messages are in the table (e.g. %d)", len(bad), bad[0]))
	}
	r.Figures = t.figures(ends)
	r.MidBatch = cr.midBatch
	if name != CaseRollback {
		r.Faults = len(ends)
	}
	if r.Lost > 0 {
		errs = append(errs, "lost: "+describe(h, table, r.LostIDs))
	}
	for _, p := range all {
		r.RelayCPUSec += p.CPU().Seconds()
	}
	r.Error = strings.Join(errs, "; ")
	r.DurationSec = time.Since(start).Seconds()
	return r
}

// progress logs, every second until stopped, the table's unsent rows and
// the messages delivered.
func progress(c *Config, h *sql.DB, table string, t *tally) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tk := time.NewTicker(time.Second)
		defer tk.Stop()
		for {
			select {
			case <-done:
				return
			case <-tk.C:
			}
			var n int
			if err := h.QueryRow("SELECT count(*) FROM " + table + " WHERE sent_at IS NULL").Scan(&n); err != nil {
				n = -1
			}
			c.logf("  %s: %d rows unsent, %d deliveries, %d committed not delivered", table, n, t.deliveries(), t.missing())
		}
	})
	return func() { close(done); wg.Wait() }
}

// waitDelivered waits until every committed message was delivered, or
// until deadline.
func waitDelivered(t *tally, deadline time.Time) {
	for t.missing() > 0 && time.Now().Before(deadline) {
		select {
		case <-t.changed:
		case <-time.After(time.Second):
		}
	}
}

// waitSent waits until the table holds no unsent row (the rows of
// transactions in doubt, and re-sends after a lease expired, are done
// too), or until deadline.
func waitSent(h *sql.DB, table string, deadline time.Time) error {
	var n int
	for {
		err := h.QueryRow("SELECT count(*) FROM " + table + " WHERE sent_at IS NULL").Scan(&n)
		if err == nil && n == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("count unsent rows: %w", err)
			}
			return fmt.Errorf("%d rows still unsent at the end of the drain", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitQuiet waits until no delivery came for 500 ms (the last copies on
// their way once the relays stopped), at most 10 s.
func waitQuiet(t *tally) {
	end := time.Now().Add(10 * time.Second)
	for n := -1; time.Now().Before(end); {
		m := t.deliveries()
		if m == n {
			return
		}
		n = m
		time.Sleep(500 * time.Millisecond)
	}
}

// storedIDs is the set of message IDs in the table (sent rows are kept:
// the relays' retention is the default, 24 h).
func storedIDs(h *sql.DB, table string) (map[int]bool, error) {
	rows, err := h.Query("SELECT id FROM " + table)
	if err != nil {
		return nil, fmt.Errorf("read the table: %w", err)
	}
	defer rows.Close()
	ids := map[int]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		var seq int
		if _, err := fmt.Sscan(id, &seq); err == nil {
			ids[seq] = true
		}
	}
	return ids, rows.Err()
}

// describe tells what the table says of the lost messages ids.
func describe(h *sql.DB, table string, ids []int) string {
	var b strings.Builder
	for _, id := range ids {
		var sent bool
		var attempts int
		err := h.QueryRow("SELECT sent_at IS NOT NULL, attempts FROM "+table+" WHERE id = '"+fmt.Sprint(id)+"'").Scan(&sent, &attempts)
		switch {
		case err != nil:
			fmt.Fprintf(&b, " %d (%v)", id, err)
		default:
			fmt.Fprintf(&b, " %d (sent %v, attempts %d)", id, sent, attempts)
		}
	}
	return strings.TrimSpace(b.String())
}
