package outbox

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"strconv"
	"strings"
	"time"
)

// stmt is one statement the relay runs: a *sql.Stmt (SQLite), or the
// query on the *sql.DB (PostgreSQL, whose driver caches its statements).
type stmt interface {
	ExecContext(ctx context.Context, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, args ...any) (*sql.Rows, error)
}

// dbStmt is query run on db.
type dbStmt struct {
	db    *sql.DB
	query string
}

func (s dbStmt) ExecContext(ctx context.Context, args ...any) (sql.Result, error) {
	return s.db.ExecContext(ctx, s.query, args...)
}

func (s dbStmt) QueryContext(ctx context.Context, args ...any) (*sql.Rows, error) {
	return s.db.QueryContext(ctx, s.query, args...)
}

// lockRetry is how long the relay waits before it tries SQLite's write
// lock again.
const lockRetry = 500 * time.Microsecond

// contend runs f with query, a statement that writes, on s's database.
// On SQLite in WAL mode it prepares query on one connection with its busy
// timeout off, and runs f again every lockRetry while the write lock is
// held by another connection, as long as that connection's busy timeout
// (the application's, from its DSN) and ctx allow. SQLite's own busy
// handler sleeps 1, 2, 5, 10 ... 100 ms between its tries: under writers
// committing flat out, who take the lock again as soon as they released
// it, a relay that slept that long lost the lock race again and again
// (claims waited up to 260 ms, and the rows pending grew). In the other
// journal modes, and on PostgreSQL, f runs once with the database's own
// waiting.
func (s *Store) contend(ctx context.Context, query string, f func(stmt) error) error {
	if s.dialect.pg {
		return f(dbStmt{s.db, query})
	}
	c, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	var (
		timeout int64
		journal string
	)
	if err := c.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&timeout); err != nil {
		return err
	}
	if err := c.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&journal); err != nil {
		return err
	}
	st, err := c.PrepareContext(ctx, query)
	if err != nil {
		return err
	}
	defer st.Close()
	if timeout == 0 || !strings.EqualFold(journal, "wal") {
		// Without WAL a write commits only once no reader holds the
		// database: SQLite's busy handler waits holding PENDING, which
		// lets no new reader in; a write tried again and again from
		// scratch would meet new readers every time.
		return f(st)
	}
	if _, err := c.ExecContext(ctx, "PRAGMA busy_timeout = 0"); err != nil {
		return err
	}
	defer restoreBusyTimeout(ctx, c, timeout)
	end := time.Now().Add(time.Duration(timeout) * time.Millisecond)
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		err := f(st)
		if err == nil || !locked(err) || !time.Now().Before(end) {
			return err
		}
		t.Reset(lockRetry)
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		case <-t.C:
		}
	}
}

// contendExec is contend running query as an Exec with args.
func (s *Store) contendExec(ctx context.Context, query string, args ...any) error {
	return s.contend(ctx, query, func(st stmt) error {
		_, err := st.ExecContext(ctx, args...)
		return err
	})
}

// locked reports whether err is SQLite's SQLITE_BUSY: another
// connection holds the write lock.
func locked(err error) bool {
	s := err.Error()
	return strings.Contains(s, "database is locked") || strings.Contains(s, "SQLITE_BUSY")
}

// restoreBusyTimeout gives c back its busy timeout ms; a connection
// that could not have it back is closed, not returned to the pool (the
// application's statements on it would fail at once on a held lock).
func restoreBusyTimeout(ctx context.Context, c *sql.Conn, ms int64) {
	if _, err := c.ExecContext(context.WithoutCancel(ctx), "PRAGMA busy_timeout = "+strconv.FormatInt(ms, 10)); err != nil {
		c.Raw(func(any) error { return driver.ErrBadConn }) //nolint:errcheck // it returns ErrBadConn: the connection is discarded
	}
}
