package outboxtest

import (
	"context"
	"testing"
)

// TestClaimStaysIndexedWithoutStatistics: a claim reads about as many
// index entries as it claims and has in flight, not every row pending,
// on a table PostgreSQL never analyzed (a new table, a burst before
// autovacuum). Without statistics the planner took the keyless rows by a
// bitmap scan of all of them and a sort: a claim cost time in proportion
// to the backlog, so a relay that fell behind fell further behind (87 ms
// claims at 15k pending, measured with outboxbench).
func TestClaimStaysIndexedWithoutStatistics(t *testing.T) {
	d := databases()[0]
	db := d.open(t)
	table := tableName()
	s := newStore(t, db, d.dialect, table)
	t.Cleanup(func() { dropOutbox(db, table) })
	const pending, inFlight, claim = 20000, 250, 100
	for i := 0; i < pending; i += 500 {
		write(t, db, s, "plan", numbered(i, 500, func(int) string { return "" })...)
	}
	ctx := context.Background()
	call := "SELECT count(*) FROM " + table + "_claim($1, $2, $3, $4)"
	var n int
	if err := db.QueryRowContext(ctx, call, "other", 60000, inFlight, inFlight+64).Scan(&n); err != nil || n != inFlight {
		t.Fatalf("claim of the rows in flight: %d rows, %v; want %d", n, err, inFlight)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // read only what it did
	if err := tx.QueryRowContext(ctx, call, "relay", 60000, claim, claim+64).Scan(&n); err != nil || n != claim {
		t.Fatalf("claim: %d rows, %v; want %d", n, err, claim)
	}
	// What this transaction read of the table's indexes and heap so far.
	var read, fetched int64
	q := `SELECT coalesce(sum(pg_stat_get_xact_tuples_returned(indexrelid)), 0), pg_stat_get_xact_tuples_fetched($1::regclass)
FROM pg_index WHERE indrelid = $1::regclass`
	if err := tx.QueryRowContext(ctx, q, table).Scan(&read, &fetched); err != nil {
		t.Fatal(err)
	}
	// The candidates (depth and keyless limit past the rows in flight), their
	// lookups and the update: a few times claim+inFlight, far below pending.
	if limit := int64(10 * (claim + inFlight)); read > limit || fetched > limit {
		t.Errorf("a claim of %d rows with %d in flight and %d pending read %d index entries and fetched %d rows; want at most %d each",
			claim, inFlight, pending, read, fetched, limit)
	}
	t.Logf("claim of %d (%d in flight, %d pending): %d index entries read, %d rows fetched", claim, inFlight, pending, read, fetched)
}

// TestClaimFunctionKeptWhenCurrent: New creates the claim function, keeps
// it when its body is this version's, and replaces one that differs (a
// table last opened by another version).
func TestClaimFunctionKeptWhenCurrent(t *testing.T) {
	d := databases()[0]
	db := d.open(t)
	table := tableName()
	newStore(t, db, d.dialect, table)
	t.Cleanup(func() { dropOutbox(db, table) })
	fn := table + "_claim(text, bigint, integer, integer)"
	version := func() (xmin, src string) {
		t.Helper()
		if err := db.QueryRow("SELECT xmin::text, prosrc FROM pg_proc WHERE oid = to_regprocedure($1)", fn).Scan(&xmin, &src); err != nil {
			t.Fatalf("the claim function %s: %v", fn, err)
		}
		return xmin, src
	}
	first, body := version()
	newStore(t, db, d.dialect, table)
	if again, _ := version(); again != first {
		t.Errorf("a second New replaced the claim function, whose body was current (xmin %s -> %s)", first, again)
	}
	if _, err := db.Exec("CREATE OR REPLACE FUNCTION " + table + "_claim(p_owner text, p_lease bigint, p_limit integer, p_depth integer) " +
		"RETURNS TABLE (seq bigint, id text, topic text, key text, headers text, payload bytea, created_at timestamptz) " +
		"LANGUAGE plpgsql AS $$ BEGIN RETURN; END $$"); err != nil {
		t.Fatal(err)
	}
	newStore(t, db, d.dialect, table)
	if _, src := version(); src != body {
		t.Errorf("New kept a claim function of another body: %q", src)
	}
}
