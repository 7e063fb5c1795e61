package orders

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/heraldkit/herald/adapters/adaptertest"
	"github.com/heraldkit/herald/examples/internal/appdb"
	"github.com/heraldkit/herald/examples/orders/internal/shop"
	"github.com/heraldkit/herald/outbox"
)

// testDB is the database of one test: its URL (given to the services),
// a handle of the test's own, and table names no other run uses.
type testDB struct {
	*appdb.DB
	url    string
	prefix string
	tables shop.Tables
}

// database is one kind of database the tests run on.
type database struct {
	name string
	open func(t *testing.T) *testDB
}

// databases are SQLite (a file of the test) and PostgreSQL
// (HERALD_TEST_POSTGRES: skipped when unset, failed under
// HERALD_REQUIRE_BROKERS=1).
func databases() []database {
	return []database{
		{"sqlite", func(t *testing.T) *testDB { return openTestDB(t, filepath.Join(t.TempDir(), "shop.db")) }},
		{"postgresql", func(t *testing.T) *testDB { return openTestDB(t, adaptertest.BrokerURL(t, "HERALD_TEST_POSTGRES")) }},
	}
}

func openTestDB(t *testing.T, url string) *testDB {
	t.Helper()
	db, err := appdb.Open(context.Background(), url, "")
	if err != nil {
		t.Fatal(err)
	}
	prefix := fmt.Sprintf("t%x_", rand.Uint32())
	t.Cleanup(func() {
		if db.Dialect == outbox.PostgreSQL { // the shared database: leave nothing behind
			dropTables(t, db, prefix)
		}
		db.Close()
	})
	d := &testDB{DB: db, url: url, prefix: prefix, tables: shop.TablesWith(prefix)}
	ctx := context.Background()
	if err := shop.CreateOrders(ctx, db, d.tables); err != nil {
		t.Fatal(err)
	}
	if err := shop.CreatePayments(ctx, db, d.tables); err != nil {
		t.Fatal(err)
	}
	return d
}

// dropTables drops the tables (and the outbox's notify function) of one
// run on PostgreSQL.
func dropTables(t *testing.T, db *appdb.DB, prefix string) {
	t.Helper()
	tb := shop.TablesWith(prefix)
	for _, name := range []string{tb.Orders, tb.Payments, tb.Outbox, tb.Outbox + "_delayed", tb.Outbox + "_migrations", tb.Inbox, tb.Inbox + "_migrations"} {
		if _, err := db.Exec("DROP TABLE IF EXISTS " + name + " CASCADE"); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	}
	if _, err := db.Exec("DROP FUNCTION IF EXISTS " + tb.Outbox + "_notify()"); err != nil {
		t.Errorf("drop %s_notify: %v", tb.Outbox, err)
	}
}
