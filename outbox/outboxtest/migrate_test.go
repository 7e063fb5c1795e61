package outboxtest

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/heraldkit/herald/outbox"
)

// oldSchema is the outbox schema before delayed delivery, as the code of
// that version wrote it: PostgreSQL at version 2 (table, indexes, NOTIFY
// trigger), SQLite at version 1; and one row of each kind it wrote.
func oldSchema(t *testing.T, db *sql.DB, d outbox.Dialect, tb string) {
	t.Helper()
	var stmts []string
	if d == outbox.PostgreSQL {
		stmts = []string{
			`CREATE TABLE ` + tb + `_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`,
			`CREATE TABLE ` + tb + ` (
	seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
	id TEXT NOT NULL, topic TEXT NOT NULL, key TEXT NOT NULL DEFAULT '', headers JSONB NOT NULL, payload BYTEA NOT NULL,
	created_at TIMESTAMPTZ NOT NULL DEFAULT now(), attempts INTEGER NOT NULL DEFAULT 0,
	lease_owner TEXT, lease_until TIMESTAMPTZ, sent_at TIMESTAMPTZ)`,
			`CREATE INDEX ` + tb + `_pending ON ` + tb + ` (seq) WHERE sent_at IS NULL`,
			`CREATE INDEX ` + tb + `_keys ON ` + tb + ` (key, txid, seq) WHERE sent_at IS NULL`,
			`CREATE INDEX ` + tb + `_sent ON ` + tb + ` (sent_at) WHERE sent_at IS NOT NULL`,
			`CREATE OR REPLACE FUNCTION ` + tb + `_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('` + tb + `', '');
	RETURN NULL;
END $$`,
			`CREATE OR REPLACE TRIGGER ` + tb + `_notify AFTER INSERT ON ` + tb + ` FOR EACH STATEMENT EXECUTE FUNCTION ` + tb + `_notify()`,
			`INSERT INTO ` + tb + `_migrations VALUES (1, 'old'), (2, 'old')`,
			`INSERT INTO ` + tb + ` (id, topic, key, headers, payload) VALUES ('old-1', 'orders', 'k', '{"x-test":"v-old-1"}', 'old-1'), ('old-2', 'orders', '', '{}', 'old-2')`,
			`INSERT INTO ` + tb + ` (id, topic, key, headers, payload, sent_at) VALUES ('old-sent', 'orders', 'k', '{}', 'old-sent', now())`,
		}
		t.Cleanup(func() { dropOutbox(db, tb) })
	} else {
		now := time.Now().UnixMilli()
		stmts = []string{
			`CREATE TABLE ` + tb + `_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`,
			`CREATE TABLE ` + tb + ` (
	seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, topic TEXT NOT NULL, key TEXT NOT NULL DEFAULT '',
	headers TEXT NOT NULL, payload BLOB NOT NULL, created_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
	lease_owner TEXT, lease_until INTEGER, sent_at INTEGER)`,
			`CREATE INDEX ` + tb + `_pending ON ` + tb + ` (seq) WHERE sent_at IS NULL`,
			`CREATE INDEX ` + tb + `_keys ON ` + tb + ` (key, seq) WHERE sent_at IS NULL`,
			`CREATE INDEX ` + tb + `_sent ON ` + tb + ` (sent_at) WHERE sent_at IS NOT NULL`,
			`INSERT INTO ` + tb + `_migrations VALUES (1, 'old')`,
			`INSERT INTO ` + tb + ` (id, topic, key, headers, payload, created_at) VALUES ('old-1', 'orders', 'k', '{"x-test":"v-old-1"}', 'old-1', ?), ('old-2', 'orders', '', '{}', 'old-2', ?)`,
			`INSERT INTO ` + tb + ` (id, topic, key, headers, payload, created_at, sent_at) VALUES ('old-sent', 'orders', 'k', '{}', 'old-sent', ?, ?)`,
		}
		for i, s := range stmts {
			var args []any
			if i >= 6 { // the rows: created_at (and sent_at)
				args = []any{now, now}
			}
			_, err := db.Exec(s, args...)
			must(t, err)
		}
		return
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%v: %s", err, s)
		}
	}
}

// A table of the schema before delayed delivery, with rows written by
// that version, opened by this one: New migrates it to version 3 (the
// delayed table), its unsent rows are relayed as before (the sent one
// is not sent again), and delayed rows work on it. Opening it once more
// applies nothing.
func TestMigrateFromSchemaBeforeDelay(t *testing.T) {
	forEach(t, func(t *testing.T, d database, table string) {
		ctx := context.Background()
		db := d.open(t)
		oldSchema(t, db, d.dialect, table)
		s := newStore(t, db, d.dialect, table)
		if v := count(t, db, "SELECT max(version) FROM "+table+"_migrations"); v != 3 {
			t.Fatalf("schema version %d after New; want 3", v)
		}
		p, target := newProbe(t)
		r, err := s.NewRelay(openPublisher(t, target), outbox.WithPollInterval(10*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		if n, err := r.RunOnce(ctx); n != 2 || err != nil {
			t.Fatalf("RunOnce on the migrated table = %d, %v; want the 2 unsent old rows", n, err)
		}
		at := time.Now().Add(200 * time.Millisecond)
		writeAt(t, db, s, "orders", at, msg("delayed", "k"))
		runRelay(t, r)
		p.waitDistinct(t, 3, 30*time.Second)
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.total != 3 || p.payloads["old-1"] != "old-1" || p.payloads["old-2"] != "old-2" || p.payloads["old-sent"] != "" {
			t.Fatalf("sent %v; want old-1, old-2 and the delayed row, not old-sent", p.payloads)
		}
		if p.firstAt["delayed"].Before(at) {
			t.Fatalf("the delayed row was sent %v before its due time", at.Sub(p.firstAt["delayed"]))
		}
		newStore(t, d.open(t), d.dialect, table)
		if c := count(t, db, "SELECT count(*) FROM "+table+"_migrations"); c != 3 {
			t.Fatalf("%d migrations recorded after opening twice; want 3 (1, 2, 3)", c)
		}
	})
}
