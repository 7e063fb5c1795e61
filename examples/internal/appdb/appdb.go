package appdb

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
	_ "modernc.org/sqlite"             // driver "sqlite"

	"github.com/heraldkit/herald/outbox"
	"github.com/heraldkit/herald/outbox/pgnotify"
)

// Env is the environment variable a service reads its database URL from
// when its -db flag is empty.
const Env = "EXAMPLE_DB_URL"

// DB is an open database and the SQL dialect it speaks.
type DB struct {
	*sql.DB
	Dialect outbox.Dialect
	url     string // postgres:// URL, "" for SQLite
}

// Open opens url: a postgres:// or postgresql:// URL, a path of a SQLite
// file ("sqlite:" or "file:" prefix optional), or "" for EXAMPLE_DB_URL
// and, when that is empty too, the SQLite file defaultFile (its directory
// is created).
func Open(ctx context.Context, url, defaultFile string) (*DB, error) {
	if url == "" {
		url = os.Getenv(Env)
	}
	if url == "" {
		if err := os.MkdirAll(filepath.Dir(defaultFile), 0o755); err != nil {
			return nil, err
		}
		url = defaultFile
	}
	var d *DB
	if strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://") {
		db, err := sql.Open("pgx", url)
		if err != nil {
			return nil, err
		}
		// Keep the connections the handlers and the relay use at once:
		// database/sql keeps 2 idle by default and closes the others, and
		// each new PostgreSQL connection is a new backend process that
		// plans its statements again.
		db.SetMaxIdleConns(16)
		d = &DB{DB: db, Dialect: outbox.PostgreSQL, url: url}
	} else {
		path := strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "file:")
		path, _, _ = strings.Cut(path, "?")
		// WAL and a busy timeout: several processes share the file, one
		// writer at a time, the others wait for the lock.
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(20000)&_pragma=journal_mode(WAL)&_txlock=immediate")
		if err != nil {
			return nil, err
		}
		d = &DB{DB: db, Dialect: outbox.SQLite}
	}
	if err := d.PingContext(ctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("database %s: %w", d.Dialect, err)
	}
	return d, nil
}

// RelayOptions are the options of a relay of the outbox table: on
// PostgreSQL a notifier that wakes it at each commit (close it with the
// returned func after the relay stopped), on SQLite none (it polls).
func (d *DB) RelayOptions(table string) ([]outbox.RelayOption, func(), error) {
	if d.url == "" {
		return nil, func() {}, nil
	}
	n, err := pgnotify.New(d.url, table)
	if err != nil {
		return nil, nil, err
	}
	return []outbox.RelayOption{outbox.WithNotifier(n)}, func() { n.Close() }, nil
}

// Q rewrites the ? placeholders of query as $1, $2... on PostgreSQL.
func (d *DB) Q(query string) string {
	if d.Dialect != outbox.PostgreSQL {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
