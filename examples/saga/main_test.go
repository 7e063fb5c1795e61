package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters/adaptertest"
	"github.com/heraldkit/herald/examples/internal/appdb"
	"github.com/heraldkit/herald/outbox"
)

// TestSagaEmbedded runs the saga on the embedded broker, with SQLite and
// with PostgreSQL.
func TestSagaEmbedded(t *testing.T) {
	for _, d := range databases() {
		t.Run(d.name, func(t *testing.T) { testSaga(t, "embedded://"+t.TempDir(), d) })
	}
}

// TestSagaNATS runs the saga on NATS (HERALD_TEST_NATS), with SQLite and
// with PostgreSQL.
func TestSagaNATS(t *testing.T) {
	for _, d := range databases() {
		t.Run(d.name, func(t *testing.T) { testSaga(t, adaptertest.BrokerURL(t, "HERALD_TEST_NATS"), d) })
	}
}

// testSaga runs 12 orders, every 4th with a declined card, with every step
// failing once right after its commit, and checks the final states, the
// stock, and that no effect ran twice although every step was redelivered.
func testSaga(t *testing.T, target string, d database) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	url, _, prefix := d.openURL(t)
	var out, errOut bytes.Buffer
	args := []string{"-target", target, "-db", url, "-tables", prefix, "-prefix", "saga-" + herald.NewID(), "-orders", "12", "-order-prefix", "order", "-decline-every", "4",
		"-stall-every", "0", "-cancel-after", "0", // the timeouts: timeout_test.go
		"-fail-once", "-metrics", "127.0.0.1:0", "-scrape", "-timeout", "45s"}
	if err := run(ctx, args, &out, &errOut); err != nil {
		t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
	got := out.String()
	defer func() {
		if t.Failed() {
			t.Logf("stdout:\n%s", got)
		}
	}()
	stock := 1000
	for i := 1; i <= 12; i++ {
		id := fmt.Sprintf("order-%d", i)
		final := fmt.Sprintf("orders: %s confirmed (payment pay-%s)", id, id)
		if i%4 == 0 {
			final = fmt.Sprintf("orders: %s cancelled (card declined, reservation res-%s released)", id, id)
			once(t, got, fmt.Sprintf("inventory: released res-%s (%d x sku-widget back in stock)", id, i))
		} else {
			stock -= i
		}
		once(t, got, final)
		once(t, got, fmt.Sprintf("inventory: reserved %d x sku-widget for %s as res-%s", i, id, id))
	}
	once(t, got, "summary: 9 confirmed, 3 cancelled")
	once(t, got, fmt.Sprintf("summary: sku-widget stock 1000 -> %d, 9 reservation(s) held for confirmed orders", stock))

	// Each effect ran once per order; each step was redelivered (the
	// injected failure) and skipped by the inbox.
	for step, n := range map[string]int{"reserve": 12, "charge": 12, "confirm": 9, "release": 3, "cancel": 3} {
		if v := series(t, got, `saga_steps_total{result="applied",step="`+step+`"}`); v != n {
			t.Errorf("%s applied %d times, want %d", step, v, n)
		}
		if v := series(t, got, `saga_steps_total{result="duplicate",step="`+step+`"}`); v < n {
			t.Errorf("%s: %d redeliveries skipped, want at least %d (one per injected failure)", step, v, n)
		}
	}
	if v := series(t, got, `saga_orders_total{state="cancelled"}`); v != 3 {
		t.Errorf("saga_orders_total cancelled = %d, want 3", v)
	}
	if !strings.Contains(got, `herald_messages_consumed_total{`) {
		t.Error("/metrics lacks Herald's herald_messages_consumed_total")
	}
}

// once asserts line occurs exactly once in out.
func once(t *testing.T, out, line string) {
	t.Helper()
	if n := strings.Count(out, line+"\n"); n != 1 {
		t.Errorf("%q printed %d times, want once", line, n)
	}
}

// series returns the value of the metric line starting with name.
func series(t *testing.T, out, name string) int {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\d+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Errorf("no series %s", name)
		return -1
	}
	v, _ := strconv.Atoi(m[1])
	return v
}

// A step recorded in the ledger is not applied again by a second
// message; a failed effect records nothing and is applied by the next
// attempt; the entry exists only if its transaction commits.
func TestLedger(t *testing.T) {
	for _, d := range databases() {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			db, prefix := d.open(t)
			st := &state{db: db, t: newTables(prefix)}
			if err := st.create(ctx, 10); err != nil {
				t.Fatal(err)
			}
			l := &Ledger{db: db, table: st.t.ledger}
			once := func(commit bool, effect func() (string, error)) (string, bool, error) {
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer tx.Rollback()
				r, applied, err := l.Once(ctx, tx, "o1", "charge", effect)
				if err == nil && commit {
					err = tx.Commit()
				}
				return r, applied, err
			}
			if _, applied, err := once(true, func() (string, error) { return "", errors.New("gateway down") }); err == nil || applied {
				t.Fatalf("failed effect: applied %v, err %v", applied, err)
			}
			if _, applied, err := once(false, func() (string, error) { return "rolled-back", nil }); err != nil || !applied {
				t.Fatalf("effect in a transaction rolled back: applied %v, err %v", applied, err)
			}
			r, applied, err := once(true, func() (string, error) { return "pay-o1", nil })
			if err != nil || !applied || r != "pay-o1" {
				t.Fatalf("after a failure and a rollback = %q, %v, %v; want it applied", r, applied, err)
			}
			r, applied, err = once(true, func() (string, error) { t.Error("a recorded step ran again"); return "again", nil })
			if err != nil || applied || r != "pay-o1" {
				t.Errorf("recorded step = %q, %v, %v; want pay-o1 not applied", r, applied, err)
			}
		})
	}
}

// databases are SQLite (a file of the test) and PostgreSQL
// (HERALD_TEST_POSTGRES: skipped when unset, failed under
// HERALD_REQUIRE_BROKERS=1).
func databases() []database {
	return []database{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "saga.db") }},
		{"postgresql", func(t *testing.T) string { return adaptertest.BrokerURL(t, "HERALD_TEST_POSTGRES") }},
	}
}

// database is one kind of database the tests run on.
type database struct {
	name string
	url  func(t *testing.T) string
}

// open opens the database and returns a handle and a fresh table prefix.
func (d database) open(t *testing.T) (*appdb.DB, string) {
	t.Helper()
	_, db, prefix := d.openURL(t)
	return db, prefix
}

// openURL opens the database and returns its URL, a handle and a fresh
// table prefix (on PostgreSQL its tables are dropped at the end).
func (d database) openURL(t *testing.T) (string, *appdb.DB, string) {
	t.Helper()
	url := d.url(t)
	db, err := appdb.Open(context.Background(), url, "")
	if err != nil {
		t.Fatal(err)
	}
	prefix := fmt.Sprintf("t%x_", rand.Uint32())
	t.Cleanup(func() {
		if db.Dialect == outbox.PostgreSQL {
			tb := newTables(prefix)
			for _, name := range []string{tb.ledger, tb.stock, tb.reservations, tb.orders, tb.outbox, tb.outbox + "_delayed", tb.outbox + "_migrations", tb.inbox, tb.inbox + "_migrations"} {
				if _, err := db.Exec("DROP TABLE IF EXISTS " + name + " CASCADE"); err != nil {
					t.Errorf("drop %s: %v", name, err)
				}
			}
			if _, err := db.Exec("DROP FUNCTION IF EXISTS " + tb.outbox + "_notify()"); err != nil {
				t.Errorf("drop %s_notify: %v", tb.outbox, err)
			}
		}
		db.Close()
	})
	return url, db, prefix
}
