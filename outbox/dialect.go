package outbox

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Dialect is the SQL of one database: placeholders, types, the schema and
// the statements of the outbox and the inbox. The two values are
// PostgreSQL and SQLite; the zero Dialect is invalid.
type Dialect struct {
	name string
	pg   bool
}

var (
	// PostgreSQL is the dialect of PostgreSQL 14 and later (any database/sql
	// driver: pgx's stdlib, lib/pq). Several relays may share one table:
	// rows are claimed with FOR UPDATE SKIP LOCKED and a lease, and the
	// rows of a key only once every row of that key from an earlier
	// transaction is visible (pg_snapshot_xmin of the current snapshot).
	// The claim is a function of the table (<table>_claim), which New
	// creates.
	PostgreSQL = Dialect{name: "postgresql", pg: true}
	// SQLite is the dialect of SQLite 3.35 and later (UPDATE ... RETURNING).
	// SQLite has one writer at a time: run one relay per database file
	// (a second is correct, since its claims wait for the write lock, but
	// adds nothing but contention).
	SQLite = Dialect{name: "sqlite"}
)

// String returns the dialect's name.
func (d Dialect) String() string { return d.name }

func (d Dialect) valid() bool { return d.name != "" }

// ph returns the i-th (1-based) placeholder.
func (d Dialect) ph(i int) string {
	if d.pg {
		return "$" + strconv.Itoa(i)
	}
	return "?"
}

// phs returns n placeholders from the first-th, comma separated.
func (d Dialect) phs(first, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(d.ph(first + i))
	}
	return b.String()
}

// dbTime converts a time read from the database (a time.Time on
// PostgreSQL, Unix milliseconds on SQLite) into a time.Time.
func (d Dialect) dbTime(v any) time.Time {
	switch t := v.(type) {
	case time.Time:
		return t
	case int64:
		return time.UnixMilli(t)
	case nil:
		return time.Time{}
	}
	panic(fmt.Sprintf("outbox: unexpected time value %T", v))
}

// outboxMigrations are the versioned schema steps of an outbox table t.
func (d Dialect) outboxMigrations(t string) []migration {
	if d.pg {
		return []migration{{1, []string{
			`CREATE TABLE IF NOT EXISTS ` + t + ` (
	seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
	id TEXT NOT NULL,
	topic TEXT NOT NULL,
	key TEXT NOT NULL DEFAULT '',
	headers JSONB NOT NULL,
	payload BYTEA NOT NULL,
	created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
	attempts INTEGER NOT NULL DEFAULT 0,
	lease_owner TEXT,
	lease_until TIMESTAMPTZ,
	sent_at TIMESTAMPTZ
)`,
			`CREATE INDEX IF NOT EXISTS ` + t + `_pending ON ` + t + ` (seq) WHERE sent_at IS NULL`,
			`CREATE INDEX IF NOT EXISTS ` + t + `_keys ON ` + t + ` (key, txid, seq) WHERE sent_at IS NULL`,
			`CREATE INDEX IF NOT EXISTS ` + t + `_sent ON ` + t + ` (sent_at) WHERE sent_at IS NOT NULL`,
		}}, {2, []string{
			// A wake-up for listening relays (Notifier): one NOTIFY on the
			// channel named after the table per inserting statement,
			// delivered at commit and merged per transaction by PostgreSQL.
			`CREATE OR REPLACE FUNCTION ` + t + `_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('` + t + `', '');
	RETURN NULL;
END $$`,
			`CREATE OR REPLACE TRIGGER ` + t + `_notify AFTER INSERT ON ` + t + ` FOR EACH STATEMENT EXECUTE FUNCTION ` + t + `_notify()`,
		}}, d.delayMigration(t)}
	}
	return []migration{{1, []string{
		`CREATE TABLE IF NOT EXISTS ` + t + ` (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	id TEXT NOT NULL,
	topic TEXT NOT NULL,
	key TEXT NOT NULL DEFAULT '',
	headers TEXT NOT NULL,
	payload BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 0,
	lease_owner TEXT,
	lease_until INTEGER,
	sent_at INTEGER
)`,
		`CREATE INDEX IF NOT EXISTS ` + t + `_pending ON ` + t + ` (seq) WHERE sent_at IS NULL`,
		`CREATE INDEX IF NOT EXISTS ` + t + `_keys ON ` + t + ` (key, seq) WHERE sent_at IS NULL`,
		`CREATE INDEX IF NOT EXISTS ` + t + `_sent ON ` + t + ` (sent_at) WHERE sent_at IS NOT NULL`,
	}}, {2, nil}, d.delayMigration(t)} // 2: PostgreSQL's NOTIFY trigger, nothing here
}

// inboxMigrations are the versioned schema steps of an inbox table t.
func (d Dialect) inboxMigrations(t string) []migration {
	ts := "INTEGER"
	if d.pg {
		ts = "TIMESTAMPTZ"
	}
	return []migration{{1, []string{
		`CREATE TABLE IF NOT EXISTS ` + t + ` (
	group_name TEXT NOT NULL,
	message_id TEXT NOT NULL,
	handled_at ` + ts + ` NOT NULL,
	PRIMARY KEY (group_name, message_id)
)`,
		`CREATE INDEX IF NOT EXISTS ` + t + `_handled ON ` + t + ` (handled_at)`,
	}}}
}

// insert is the statement writing n messages into t, and the number of
// arguments per message: id, topic, key, headers, payload and, on SQLite,
// created_at (Unix ms; PostgreSQL takes now(), the transaction's start on
// the database's clock, the clock its leases and Stats use).
func (d Dialect) insert(t string, n int) (string, int) {
	var b strings.Builder
	per := 6
	if d.pg {
		per = 5
		b.WriteString("INSERT INTO " + t + " (id, topic, key, headers, payload) VALUES ")
	} else {
		b.WriteString("INSERT INTO " + t + " (id, topic, key, headers, payload, created_at) VALUES ")
	}
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		if d.pg {
			a := i * per
			fmt.Fprintf(&b, "($%d,$%d,$%d,$%d::jsonb,$%d)", a+1, a+2, a+3, a+4, a+5)
		} else {
			b.WriteString("(?,?,?,?,?,?)")
		}
	}
	return b.String(), per
}

// claim leases up to limit rows that are ready (arguments: claimArgs).
//
// A row is ready when it is unsent, its lease (if any) expired, and, when
// it has a key, no earlier unsent row of that key exists: a key's next
// row is claimed only once the previous one was acknowledged and marked
// sent. On PostgreSQL "earlier" is the order (txid, seq) and a keyed row
// is ready only when its transaction is older than every transaction
// still in progress (txid < pg_snapshot_xmin(pg_current_snapshot())), so
// that every earlier row of its key is visible: a transaction still open
// cannot hide a row that should go first. Keyless rows are ready as soon
// as they are committed. No cursor exists: a row is taken by its sent_at
// being NULL, so a row committed late is never skipped.
//
// The rows tested are a bounded set of candidates, not every unsent row
// (a backlog of few keys has few ready rows, and testing all of it on
// every claim made draining it quadratic): the oldest depth unsent rows
// not leased (the oldest unsent row is always among them, so every row
// is reached in turn); the first unsent row of the keys, in key order,
// until limit of them are not leased (a loose index scan of the keys
// index: the heads of few keys are found however deep the backlog, and
// keys whose row is in flight are passed over); and the oldest limit
// keyless rows not leased (found through the keys index too, however
// many keyed rows wait before them). The oldest ready candidates are
// claimed. The candidates drive the lookup of the rows (PostgreSQL: an
// array, seq = ANY; SQLite: CROSS JOIN, which keeps the join order), so
// that the planner looks each up by its key instead of testing every
// unsent row and joining (both planners did that otherwise).
func (d Dialect) claim(t string) string {
	if d.pg {
		return `SELECT seq, id, topic, key, headers, payload, created_at FROM ` + claimFunc(t) + `($1, $2, $3, $4)`
	}
	return `UPDATE ` + t + ` SET lease_owner = ?1, lease_until = ?2 + ?3, attempts = attempts + 1
WHERE seq IN (
	WITH RECURSIVE keys(key, free) AS (
		SELECT (SELECT k.key FROM ` + t + ` AS k WHERE k.sent_at IS NULL AND k.key > '' ORDER BY k.key LIMIT 1), 0
		UNION ALL
		SELECT (SELECT k.key FROM ` + t + ` AS k WHERE k.sent_at IS NULL AND k.key > p.key ORDER BY k.key LIMIT 1),
			p.free + (SELECT count(*) FROM ` + t + ` AS f WHERE f.seq = (
				SELECT h.seq FROM ` + t + ` AS h WHERE h.sent_at IS NULL AND h.key = p.key ORDER BY h.seq LIMIT 1)
				AND (f.lease_until IS NULL OR f.lease_until < ?2))
		FROM keys AS p WHERE p.key IS NOT NULL AND p.free < ?4
	), cand(seq) AS (
		SELECT seq FROM (SELECT o.seq FROM ` + t + ` AS o WHERE o.sent_at IS NULL AND (o.lease_until IS NULL OR o.lease_until < ?2)
			ORDER BY o.seq LIMIT ?5)
		UNION
		SELECT (SELECT h.seq FROM ` + t + ` AS h WHERE h.sent_at IS NULL AND h.key = k.key ORDER BY h.seq LIMIT 1)
			FROM keys AS k WHERE k.key IS NOT NULL
		UNION
		SELECT seq FROM (SELECT n.seq FROM ` + t + ` AS n WHERE n.sent_at IS NULL AND n.key = '' AND (n.lease_until IS NULL OR n.lease_until < ?2)
			ORDER BY n.seq LIMIT ?4)
	)
	SELECT c.seq FROM cand CROSS JOIN ` + t + ` AS c ON c.seq = cand.seq
	WHERE c.sent_at IS NULL AND (c.lease_until IS NULL OR c.lease_until < ?2) AND (c.key = '' OR NOT EXISTS (
		SELECT 1 FROM ` + t + ` AS e WHERE e.key = c.key AND e.sent_at IS NULL AND e.seq < c.seq))
	ORDER BY c.seq LIMIT ?4)
RETURNING seq, id, topic, key, headers, payload, created_at`
}

// claimFunc is the name of the PostgreSQL function that claims rows of
// outbox t (claim's statement on PostgreSQL).
func claimFunc(t string) string { return t + "_claim" }

// function is a PostgreSQL function of a table: its name, its arguments'
// types (as pg_proc spells them in its identity) and its CREATE statement,
// whose body migrate compares with the one in the database.
type function struct {
	name, args, body, create string
}

// outboxFunctions are the functions of outbox t. The claim runs in one:
// planned inside it with bitmap scans off, so that each of its candidate
// scans is an ordered index scan that stops after its LIMIT. Without
// statistics (a new table, or before autovacuum analyzed a burst of
// keyless rows) PostgreSQL estimated a handful of keyless rows and chose
// a bitmap scan of every unsent keyless row and a sort instead: a claim
// then cost time in proportion to the rows pending (87 ms per claim with
// 15k pending, measured), so a relay that fell behind fell further behind.
// A function's SET applies while it runs, and PL/pgSQL keeps its plan for
// the session.
func (d Dialect) outboxFunctions(t string) []function {
	if !d.pg {
		return nil
	}
	body := `
#variable_conflict use_column
BEGIN
RETURN QUERY ` + pgClaim(t) + `;
END
`
	name := claimFunc(t)
	return []function{{name: name, args: "text, bigint, integer, integer", body: body,
		create: `CREATE OR REPLACE FUNCTION ` + name + `(p_owner text, p_lease bigint, p_limit integer, p_depth integer)
RETURNS TABLE (seq bigint, id text, topic text, key text, headers text, payload bytea, created_at timestamptz)
LANGUAGE plpgsql SET enable_bitmapscan = off AS $fn$` + body + `$fn$`}}
}

// pgClaim is the claim statement of outbox t on PostgreSQL, the body of
// its function (arguments p_owner, p_lease in ms, p_limit, p_depth).
func pgClaim(t string) string {
	return `UPDATE ` + t + ` AS u SET lease_owner = p_owner, lease_until = now() + p_lease::bigint * interval '1 millisecond', attempts = u.attempts + 1
WHERE u.seq IN (
	WITH RECURSIVE keys(key, free) AS (
		SELECT (SELECT k.key FROM ` + t + ` AS k WHERE k.sent_at IS NULL AND k.key > '' ORDER BY k.key LIMIT 1), 0
		UNION ALL
		SELECT (SELECT k.key FROM ` + t + ` AS k WHERE k.sent_at IS NULL AND k.key > p.key ORDER BY k.key LIMIT 1),
			p.free + (SELECT count(*) FROM ` + t + ` AS f WHERE f.seq = (
				SELECT h.seq FROM ` + t + ` AS h WHERE h.sent_at IS NULL AND h.key = p.key ORDER BY h.txid, h.seq LIMIT 1)
				AND (f.lease_until IS NULL OR f.lease_until < now()))::int
		FROM keys AS p WHERE p.key IS NOT NULL AND p.free < p_limit
	), cand(seq) AS (
		(SELECT o.seq FROM ` + t + ` AS o WHERE o.sent_at IS NULL AND (o.lease_until IS NULL OR o.lease_until < now())
			ORDER BY o.seq LIMIT p_depth)
		UNION
		SELECT (SELECT h.seq FROM ` + t + ` AS h WHERE h.sent_at IS NULL AND h.key = k.key ORDER BY h.txid, h.seq LIMIT 1)
			FROM keys AS k WHERE k.key IS NOT NULL
		UNION
		(SELECT n.seq FROM ` + t + ` AS n WHERE n.sent_at IS NULL AND n.key = '' AND (n.lease_until IS NULL OR n.lease_until < now())
			ORDER BY n.txid, n.seq LIMIT p_limit)
	)
	SELECT c.seq FROM ` + t + ` AS c
	WHERE c.seq = ANY (ARRAY(SELECT seq FROM cand)) AND c.sent_at IS NULL AND (c.lease_until IS NULL OR c.lease_until < now()) AND (c.key = '' OR (
		c.txid < pg_snapshot_xmin(pg_current_snapshot()) AND (c.txid, c.seq) = (
			SELECT e.txid, e.seq FROM ` + t + ` AS e
			WHERE e.key = c.key AND e.sent_at IS NULL ORDER BY e.txid, e.seq LIMIT 1)))
	ORDER BY c.seq LIMIT p_limit
	FOR UPDATE OF c SKIP LOCKED)
RETURNING u.seq, u.id, u.topic, u.key, u.headers::text, u.payload, u.created_at`
}

// mark marks the rows seqs sent (or deletes them when del), at now.
func (d Dialect) mark(t string, now time.Time, seqs []int64, del bool) (string, []any) {
	args := make([]any, 0, len(seqs)+1)
	first := 1
	if !d.pg && !del {
		args = append(args, now.UnixMilli())
		first = 2
	}
	for _, s := range seqs {
		args = append(args, s)
	}
	in := " WHERE seq IN (" + d.phs(first, len(seqs)) + ")"
	switch {
	case del:
		return "DELETE FROM " + t + in, args
	case d.pg:
		return "UPDATE " + t + " SET sent_at = now(), lease_owner = NULL, lease_until = NULL" + in, args
	}
	return "UPDATE " + t + " SET sent_at = ?1, lease_owner = NULL, lease_until = NULL" + in, args
}

// release ends owner's lease of a row whose publish failed (or was not
// started), so that it is tried again after delay. The row no longer has
// an owner: a renewal by owner does not extend it.
func (d Dialect) release(t string, now time.Time, delay time.Duration, seq int64, owner string) (string, []any) {
	if d.pg {
		return "UPDATE " + t + " SET lease_owner = NULL, lease_until = now() + $1::bigint * interval '1 millisecond' WHERE seq = $2 AND lease_owner = $3",
			[]any{delay.Milliseconds(), seq, owner}
	}
	return "UPDATE " + t + " SET lease_owner = NULL, lease_until = ?1 WHERE seq = ?2 AND lease_owner = ?3",
		[]any{now.Add(delay).UnixMilli(), seq, owner}
}

// renew extends owner's leases of the rows seqs to lease from now, for
// those still unsent and still owner's (nobody claimed them since: a
// claim sets the owner), and returns their seq.
func (d Dialect) renew(t, owner string, now time.Time, lease time.Duration, seqs []int64) (string, []any) {
	args := make([]any, 0, len(seqs)+3)
	var q string
	if d.pg {
		args = append(args, owner, lease.Milliseconds())
		q = "UPDATE " + t + " SET lease_until = now() + $2::bigint * interval '1 millisecond' WHERE lease_owner = $1 AND sent_at IS NULL AND seq IN (" + d.phs(3, len(seqs)) + ") RETURNING seq"
	} else {
		args = append(args, owner, now.UnixMilli(), lease.Milliseconds())
		q = "UPDATE " + t + " SET lease_until = ?2 + ?3 WHERE lease_owner = ?1 AND sent_at IS NULL AND seq IN (" + d.phs(4, len(seqs)) + ") RETURNING seq"
	}
	for _, s := range seqs {
		args = append(args, s)
	}
	return q, args
}

// purge deletes rows sent longer than age before now.
func (d Dialect) purge(t string, now time.Time, age time.Duration) (string, []any) {
	if d.pg {
		return "DELETE FROM " + t + " WHERE sent_at < now() - $1::bigint * interval '1 millisecond'", []any{age.Milliseconds()}
	}
	return "DELETE FROM " + t + " WHERE sent_at < ?1", []any{now.Add(-age).UnixMilli()}
}

// claimArgs are the arguments of claim: the depth of the oldest rows is
// the limit and 64 more.
func (d Dialect) claimArgs(owner string, now time.Time, lease time.Duration, limit int) []any {
	depth := limit + 64
	if d.pg {
		return []any{owner, lease.Milliseconds(), limit, depth}
	}
	return []any{owner, now.UnixMilli(), lease.Milliseconds(), limit, depth}
}

// pending counts unsent rows and returns the creation time of the oldest
// (a delayed row's is its due time), and counts the delayed rows not yet
// due.
func (d Dialect) pending(t string) string {
	return "SELECT count(*), min(created_at), (SELECT count(*) FROM " + delayedTable(t) + ") FROM " + t + " WHERE sent_at IS NULL"
}
