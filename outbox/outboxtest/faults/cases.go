package faults

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// Cases, by name.
const (
	CaseRelayKill  = "relay-kill"  // the relay process SIGKILLed mid-batch, Kills times, started again at once
	CaseDBRestart  = "db-restart"  // PostgreSQL stopped with pg_ctl -m immediate and started again, Restarts times
	CaseBrokerDown = "broker-down" // nats-server SIGKILLed and started again Down later, Restarts times; the relay keeps running
	CaseRelays2    = "relays-2"    // two relay processes on one table, one SIGKILLed (in turn) Kills times, started again
	CaseRelays3    = "relays-3"    // three relay processes, likewise
	CaseRollback   = "rollback"    // no process fault: half the transactions rolled back, some to a savepoint, some held open
)

// AllCases lists the cases in the order the suite runs them.
var AllCases = []string{CaseRelayKill, CaseDBRestart, CaseBrokerDown, CaseRelays2, CaseRelays3, CaseRollback}

// Databases.
const (
	PostgreSQL = "postgresql"
	SQLite     = "sqlite"
)

// AllDatabases lists the databases.
var AllDatabases = []string{PostgreSQL, SQLite}

// Applies reports whether case name runs on database db: db-restart and
// the relays-N cases on PostgreSQL only (SQLite has no server to restart:
// a relay killed while it writes the file is relay-kill; and SQLite takes
// one relay per file).
func Applies(name, db string) bool {
	switch name {
	case CaseDBRestart, CaseRelays2, CaseRelays3:
		return db == PostgreSQL
	}
	return slices.Contains(AllCases, name)
}

// relaysOf is how many relay processes case name runs.
func relaysOf(name string) int {
	switch name {
	case CaseRelays2:
		return 2
	case CaseRelays3:
		return 3
	}
	return 1
}

// caseRun is what a fault acts on.
type caseRun struct {
	c      *Config
	env    *env
	relays []*relayProc
	start  func() (*relayProc, error) // a new relay process on the case's table
	t      *tally
	pg     bool
	// midBatch counts the kills that came right after a hand-off.
	midBatch int
}

// fault applies case name and returns the moments each of its faults
// ended: the killed relay's successor running, the database accepting
// connections again, the broker ready again; for rollback, the writers
// stopped (the caller's).
func (r *caseRun) fault(name string) ([]time.Time, error) {
	c := r.c
	var ends []time.Time
	switch name {
	case CaseRelayKill, CaseRelays2, CaseRelays3:
		for i := range c.Kills {
			if i > 0 {
				time.Sleep(c.Gap)
			}
			k := i % len(r.relays)
			r.killMidBatch(k)
			p, err := r.start()
			if err != nil {
				return ends, fmt.Errorf("restart relay %d: %w", k, err)
			}
			r.relays[k] = p
			ends = append(ends, time.Now())
		}
	case CaseDBRestart:
		if !r.pg {
			return nil, fmt.Errorf("%s: PostgreSQL only", name)
		}
		for i := range c.Restarts {
			if i > 0 {
				time.Sleep(c.Gap)
			}
			if err := r.env.pg.stopImmediate(); err != nil {
				return ends, err
			}
			c.logf("%s: PostgreSQL stopped (-m immediate)", name)
			time.Sleep(c.Down)
			if err := r.env.pg.start(); err != nil {
				return ends, err
			}
			ends = append(ends, time.Now())
		}
	case CaseBrokerDown:
		for i := range c.Restarts {
			if i > 0 {
				time.Sleep(c.Gap)
			}
			r.env.nats.kill()
			c.logf("%s: nats-server killed", name)
			time.Sleep(c.Down)
			if err := r.env.nats.start(); err != nil {
				return ends, err
			}
			ends = append(ends, time.Now())
		}
	case CaseRollback:
	default:
		return nil, fmt.Errorf("case %q: unknown (allowed: %v)", name, AllCases)
	}
	return ends, nil
}

// killMidBatch SIGKILLs relay k 0-5 ms after it handed a message to the
// broker, in the middle of a batch (rows claimed and leased, some in
// flight, some acknowledged and not yet marked sent), or after 2 s
// without a hand-off.
func (r *caseRun) killMidBatch(k int) {
	p := r.relays[k]
	select { // a hand-off of the past
	case <-p.handed:
	default:
	}
	mid := true
	select {
	case <-p.handed:
		time.Sleep(rand.N(5 * time.Millisecond))
	case <-time.After(2 * time.Second):
		mid = false
	}
	p.Kill()
	if mid {
		r.midBatch++
	}
	r.c.logf("relay %d killed (mid-batch: %v)", k, mid)
}
