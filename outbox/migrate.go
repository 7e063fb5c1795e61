package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
)

// migration is one versioned step of a table's schema.
type migration struct {
	version int
	stmts   []string
}

// migrate applies the steps of migs not yet recorded in the table
// <table>_migrations (version, applied), in one transaction. On PostgreSQL
// the transaction holds an advisory lock named after the table, so that
// processes starting together apply each step once; on SQLite the first
// write takes the database's write lock. Then, in the same transaction, it
// creates or replaces each of funcs whose body in the database is not the
// one given: a function is code, not schema, so the database's always
// matches the code of the last process that opened the table (processes
// of two versions sharing a table replace it in turn; each version's is
// correct).
func migrate(ctx context.Context, db *sql.DB, d Dialect, table string, migs []migration, funcs []function) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("outbox: migrate %s: %w", table, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	mt := table + "_migrations"
	if d.pg {
		h := fnv.New64a()
		h.Write([]byte(mt))
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", int64(h.Sum64())); err != nil {
			return fmt.Errorf("outbox: migrate %s: lock: %w", table, err)
		}
	}
	ddl := "CREATE TABLE IF NOT EXISTS " + mt + " (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
	if _, err := tx.ExecContext(ctx, ddl); err != nil {
		return fmt.Errorf("outbox: migrate %s: %w", table, err)
	}
	var have sql.NullInt64
	if err := tx.QueryRowContext(ctx, "SELECT max(version) FROM "+mt).Scan(&have); err != nil {
		return fmt.Errorf("outbox: migrate %s: %w", table, err)
	}
	for _, m := range migs {
		if int64(m.version) <= have.Int64 {
			continue
		}
		for _, s := range m.stmts {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("outbox: migrate %s to version %d: %w", table, m.version, err)
			}
		}
		ins := "INSERT INTO " + mt + " (version, applied_at) VALUES (" + d.ph(1) + ", CURRENT_TIMESTAMP)"
		if _, err := tx.ExecContext(ctx, ins, m.version); err != nil {
			return fmt.Errorf("outbox: migrate %s to version %d: %w", table, m.version, err)
		}
	}
	for _, f := range funcs {
		var body sql.NullString
		q := "SELECT prosrc FROM pg_proc WHERE oid = to_regprocedure($1)"
		if err := tx.QueryRowContext(ctx, q, f.name+"("+f.args+")").Scan(&body); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("outbox: migrate %s: read function %s: %w", table, f.name, err)
		}
		if body.Valid && body.String == f.body {
			continue
		}
		if _, err := tx.ExecContext(ctx, f.create); err != nil {
			return fmt.Errorf("outbox: migrate %s: create function %s: %w", table, f.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("outbox: migrate %s: %w", table, err)
	}
	return nil
}
