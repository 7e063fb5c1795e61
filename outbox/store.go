package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"github.com/heraldkit/herald"
)

// DefaultTable is the outbox table's name unless WithTable says otherwise.
const DefaultTable = "herald_outbox"

// maxTableLen keeps the table's name and the names derived from it
// (<table>_migrations, <table>_pending, <table>_delayed_notify...) within
// PostgreSQL's 63 bytes.
const maxTableLen = 48

var tableName = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// checkTable validates a table name given for the setting key.
func checkTable(key, name string) error {
	if len(name) > maxTableLen || !tableName.MatchString(name) {
		return &herald.ConfigError{Key: key, Value: name, Problem: "not a table name",
			Allowed: fmt.Sprintf("lower-case letters, digits and _, not starting with a digit, at most %d bytes", maxTableLen)}
	}
	return nil
}

// Store writes messages into the outbox table of one database, in the
// caller's transactions. It is safe for concurrent use.
type Store struct {
	db      *sql.DB
	dialect Dialect
	table   string
}

// Option configures a Store.
type Option func(*Store) error

// WithTable sets the outbox table's name (default DefaultTable): lower-case
// letters, digits and _, at most 48 bytes. The migrations of its schema
// are recorded in <name>_migrations.
func WithTable(name string) Option {
	return func(s *Store) error {
		if err := checkTable("outbox.WithTable", name); err != nil {
			return err
		}
		s.table = name
		return nil
	}
}

// New returns the Store of the outbox table in db, written in d's SQL. It
// creates the table, or brings its schema to the current version, before
// it returns (the steps applied are recorded in <table>_migrations).
func New(ctx context.Context, db *sql.DB, d Dialect, opts ...Option) (*Store, error) {
	if db == nil {
		return nil, &herald.ConfigError{Key: "outbox.New", Problem: "db is nil"}
	}
	if !d.valid() {
		return nil, &herald.ConfigError{Key: "outbox.New", Problem: "dialect is the zero Dialect", Allowed: "outbox.PostgreSQL, outbox.SQLite"}
	}
	s := &Store{db: db, dialect: d, table: DefaultTable}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(s); err != nil {
			return nil, err
		}
	}
	if err := migrate(ctx, db, d, s.table, d.outboxMigrations(s.table), d.outboxFunctions(s.table)); err != nil {
		return nil, err
	}
	return s, nil
}

// Table returns the outbox table's name.
func (s *Store) Table() string { return s.table }

// Dialect returns the store's dialect.
func (s *Store) Dialect() Dialect { return s.dialect }

// maxInsert bounds the messages of one INSERT statement (at most 7
// arguments each, well within every driver's limit of parameters).
const maxInsert = 500

// Publish writes msgs for topic into the outbox, in tx: each row holds
// the topic, the message's key (herald.Key), its other metadata as JSON,
// its payload, its ID and the time it was written. Nothing reaches a
// broker unless tx commits; a relay then sends each row at least once. The
// messages are sent in the order written, per key (see Relay).
func (s *Store) Publish(ctx context.Context, tx *sql.Tx, topic string, msgs ...*herald.Message) error {
	return s.write(ctx, tx, "publish", topic, time.Time{}, msgs)
}

// write writes msgs for topic in tx: into the outbox when due is zero,
// into its delayed table, due at due, otherwise. op names the call in
// errors.
func (s *Store) write(ctx context.Context, tx *sql.Tx, op, topic string, due time.Time, msgs []*herald.Message) error {
	if tx == nil {
		return fmt.Errorf("outbox: %s: tx is nil", op)
	}
	if topic == "" {
		return fmt.Errorf("outbox: %s: topic is empty", op)
	}
	now := time.Now().UnixMilli()
	for len(msgs) > 0 {
		n := min(len(msgs), maxInsert)
		q, per := s.dialect.insert(s.table, n)
		if !due.IsZero() {
			q, per = s.dialect.insertDelayed(s.table, n)
		}
		args := make([]any, 0, n*per)
		for _, m := range msgs[:n] {
			if m == nil {
				return fmt.Errorf("outbox: %s: a message is nil", op)
			}
			if m.UUID == "" {
				return fmt.Errorf("outbox: %s: a message has no ID", op)
			}
			h, err := headers(m)
			if err != nil {
				return err
			}
			payload := []byte(m.Payload)
			if payload == nil {
				payload = []byte{} // NOT NULL
			}
			if !due.IsZero() {
				args = append(args, s.dialect.dueValue(due))
			}
			args = append(args, m.UUID, topic, herald.Key(m), h, payload)
			if !s.dialect.pg {
				args = append(args, now)
			}
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("outbox: %s to %s: %w", op, topic, err)
		}
		msgs = msgs[n:]
	}
	return nil
}

// headers is m's metadata without the key (a column of its own) as JSON.
func headers(m *herald.Message) (string, error) {
	md := make(map[string]string, len(m.Metadata))
	for k, v := range m.Metadata {
		if k != herald.KeyHeader {
			md[k] = v
		}
	}
	b, err := json.Marshal(md)
	if err != nil {
		return "", fmt.Errorf("outbox: publish: headers: %w", err)
	}
	return string(b), nil
}
