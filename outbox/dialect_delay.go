package outbox

import (
	"fmt"
	"strings"
	"time"
)

// delayedTable is the table of the rows of outbox table t that wait for
// their due time (Store.PublishAt): <t>_delayed.
func delayedTable(t string) string { return t + "_delayed" }

// delayMigration is schema version 3 of outbox table t: the table of
// delayed rows, indexed by due time, whose inserts wake listening relays
// as the outbox's do (the NOTIFY function of version 2, PostgreSQL). The
// outbox table itself, its indexes and its rows are unchanged: a row
// enters it only once due, so the claim never meets a row not due.
func (d Dialect) delayMigration(t string) migration {
	dt := delayedTable(t)
	if d.pg {
		return migration{3, []string{
			`CREATE TABLE IF NOT EXISTS ` + dt + ` (
	seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	due_at TIMESTAMPTZ NOT NULL,
	id TEXT NOT NULL,
	topic TEXT NOT NULL,
	key TEXT NOT NULL DEFAULT '',
	headers JSONB NOT NULL,
	payload BYTEA NOT NULL,
	created_at TIMESTAMPTZ NOT NULL DEFAULT now()
)`,
			`CREATE INDEX IF NOT EXISTS ` + dt + `_due ON ` + dt + ` (due_at, seq)`,
			`CREATE OR REPLACE TRIGGER ` + dt + `_notify AFTER INSERT ON ` + dt + ` FOR EACH STATEMENT EXECUTE FUNCTION ` + t + `_notify()`,
		}}
	}
	return migration{3, []string{
		`CREATE TABLE IF NOT EXISTS ` + dt + ` (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	due_at INTEGER NOT NULL,
	id TEXT NOT NULL,
	topic TEXT NOT NULL,
	key TEXT NOT NULL DEFAULT '',
	headers TEXT NOT NULL,
	payload BLOB NOT NULL,
	created_at INTEGER NOT NULL
)`,
		`CREATE INDEX IF NOT EXISTS ` + dt + `_due ON ` + dt + ` (due_at, seq)`,
	}}
}

// insertDelayed is the statement writing n delayed messages into the
// delayed table of t, and the number of arguments per message: due_at,
// id, topic, key, headers, payload and, on SQLite, created_at.
func (d Dialect) insertDelayed(t string, n int) (string, int) {
	var b strings.Builder
	dt := delayedTable(t)
	per := 7
	if d.pg {
		per = 6
		b.WriteString("INSERT INTO " + dt + " (due_at, id, topic, key, headers, payload) VALUES ")
	} else {
		b.WriteString("INSERT INTO " + dt + " (due_at, id, topic, key, headers, payload, created_at) VALUES ")
	}
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		if d.pg {
			a := i * per
			fmt.Fprintf(&b, "($%d,$%d,$%d,$%d,$%d::jsonb,$%d)", a+1, a+2, a+3, a+4, a+5, a+6)
		} else {
			b.WriteString("(?,?,?,?,?,?,?)")
		}
	}
	return b.String(), per
}

// dueValue is the due time at as written: rounded up to the column's
// precision (PostgreSQL µs, SQLite ms), so that a row is never due
// before at.
func (d Dialect) dueValue(at time.Time) any {
	if d.pg {
		if r := at.Truncate(time.Microsecond); !r.Equal(at) {
			return r.Add(time.Microsecond)
		}
		return at
	}
	ms := at.UnixMilli()
	if time.UnixMilli(ms).Before(at) {
		ms++
	}
	return ms
}

// moveDue is the statements moving at most limit rows of t's delayed
// table that are due at now (arguments: moveArgs) into t, in due-time
// order then written order: each gets a new seq (and, on PostgreSQL, the
// moving transaction's ID), so it takes its place in its key's order as a
// row written when it came due; its created_at is its due time. On
// PostgreSQL one statement (FOR UPDATE SKIP LOCKED: relays moving at once
// move different rows, each once); on SQLite two, to run in one
// transaction (the first takes the write lock).
func (d Dialect) moveDue(t string) []string {
	dt := delayedTable(t)
	if d.pg {
		return []string{`WITH moved AS (
	DELETE FROM ` + dt + ` WHERE seq IN (
		SELECT seq FROM ` + dt + ` WHERE due_at <= $1 ORDER BY due_at, seq LIMIT $2 FOR UPDATE SKIP LOCKED)
	RETURNING seq, due_at, id, topic, key, headers, payload)
INSERT INTO ` + t + ` (id, topic, key, headers, payload, created_at)
SELECT id, topic, key, headers, payload, due_at FROM moved ORDER BY due_at, seq`}
	}
	due := `SELECT seq FROM ` + dt + ` WHERE due_at <= ?1 ORDER BY due_at, seq LIMIT ?2`
	return []string{
		`INSERT INTO ` + t + ` (id, topic, key, headers, payload, created_at)
SELECT id, topic, key, headers, payload, due_at FROM ` + dt + ` WHERE seq IN (` + due + `) ORDER BY due_at, seq`,
		`DELETE FROM ` + dt + ` WHERE seq IN (` + due + `)`,
	}
}

// moveArgs are the arguments of moveDue.
func (d Dialect) moveArgs(now time.Time, limit int) []any {
	if d.pg {
		return []any{now, limit}
	}
	return []any{now.UnixMilli(), limit}
}

// nextDue returns the earliest due time of t's delayed rows (NULL when
// none).
func (d Dialect) nextDue(t string) string {
	return "SELECT min(due_at) FROM " + delayedTable(t)
}
