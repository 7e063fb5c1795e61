package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/heraldkit/herald"
)

// DefaultInboxTable is the inbox table's name unless WithInboxTable says
// otherwise.
const DefaultInboxTable = "herald_inbox"

// DefaultInboxRetention is how long an inbox remembers a handled message
// unless WithInboxRetention says otherwise.
const DefaultInboxRetention = 7 * 24 * time.Hour

// Inbox records the messages a consumer group has handled, in the same
// transaction as the handler's effects, so that a redelivered message is
// skipped instead of handled twice.
//
// What it guarantees, honestly: delivery stays at-least-once; the inbox
// makes the handler's effects happen once per (group, message ID) only
// for the effects written in the transaction the handler gets from
// TxFrom (rows in the same database, and messages published through
// Store.Publish on that tx). Anything else the handler does (an HTTP
// call, a file, a publish straight to a broker) happens again whenever
// the handler runs again: after it failed, or after the commit failed or
// the process died before the commit. Once the commit succeeded, every
// redelivery of the message is skipped (acked without the handler), even
// when the ack of the first delivery was lost.
type Inbox struct {
	db        *sql.DB
	dialect   Dialect
	table     string
	group     string
	retention time.Duration

	nextPurge atomic.Int64 // Unix ns before which no purge starts
	purging   atomic.Bool
}

// InboxOption configures an Inbox.
type InboxOption func(*Inbox) error

// WithInboxTable sets the inbox table's name (default DefaultInboxTable).
func WithInboxTable(name string) InboxOption {
	return func(in *Inbox) error {
		if err := checkTable("outbox.WithInboxTable", name); err != nil {
			return err
		}
		in.table = name
		return nil
	}
}

// WithInboxRetention sets how long the inbox remembers a handled message
// (default DefaultInboxRetention, 7 days); 0 remembers every message
// forever. The trade-off: the table holds one row per message handled
// within the retention, and a redelivery of a message handled longer
// ago than the retention is handled again. Keep it well above the
// longest time a message can take to come back: the broker's retention
// of unacknowledged messages, a consumer group re-read from an old
// offset, a replay of a dead-letter queue.
func WithInboxRetention(d time.Duration) InboxOption {
	return func(in *Inbox) error {
		if d < 0 {
			return &herald.ConfigError{Key: "outbox.WithInboxRetention", Value: d.String(), Problem: "must not be negative", Allowed: "0 (forever) or a duration"}
		}
		in.retention = d
		return nil
	}
}

// NewInbox returns the inbox of the consumer group group in db (created or
// migrated before it returns, like New). Records older than the retention
// (WithInboxRetention) are deleted in the background while the
// middleware handles messages, at most every purgeEvery; Purge deletes
// them at once.
func NewInbox(ctx context.Context, db *sql.DB, d Dialect, group string, opts ...InboxOption) (*Inbox, error) {
	if db == nil {
		return nil, &herald.ConfigError{Key: "outbox.NewInbox", Problem: "db is nil"}
	}
	if !d.valid() {
		return nil, &herald.ConfigError{Key: "outbox.NewInbox", Problem: "dialect is the zero Dialect", Allowed: "outbox.PostgreSQL, outbox.SQLite"}
	}
	if group == "" {
		return nil, &herald.ConfigError{Key: "outbox.NewInbox", Problem: "group is empty", Allowed: "the subscriber's consumer group"}
	}
	in := &Inbox{db: db, dialect: d, table: DefaultInboxTable, group: group, retention: DefaultInboxRetention}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(in); err != nil {
			return nil, err
		}
	}
	if err := migrate(ctx, db, d, in.table, d.inboxMigrations(in.table), nil); err != nil {
		return nil, err
	}
	return in, nil
}

type txKey struct{}

// inboxTx is what the middleware gives the handler in its context: the
// transaction and what is to run once it committed.
type inboxTx struct {
	tx    *sql.Tx
	after []func()
}

// TxFrom returns the transaction an Inbox's middleware runs the handler
// in, or nil outside one (the context carries it from the middleware to
// the application's handler: user code, not the facade). Write the handler's effects, and its outgoing
// messages (Store.Publish), in it: they commit together with the record
// that the message was handled.
func TxFrom(ctx context.Context) *sql.Tx {
	if it, _ := ctx.Value(txKey{}).(*inboxTx); it != nil {
		return it.tx
	}
	return nil
}

// AfterCommit runs fn once the transaction of the inbox's middleware in
// ctx committed (after the handler returned nil); fn is dropped when the
// transaction rolls back, so an effect outside the database (a line
// printed, a cache updated, a reply sent) happens once per handled
// message and never for one that will be handled again. Functions run in
// the order they were added, on the handler's goroutine, before the
// message is acked. Outside an inbox's handler fn runs at once.
func AfterCommit(ctx context.Context, fn func()) {
	if it, _ := ctx.Value(txKey{}).(*inboxTx); it != nil {
		it.after = append(it.after, fn)
		return
	}
	fn()
}

// ErrNoID is wrapped in the (permanent) error of a message without an ID,
// which an inbox cannot recognise again.
var ErrNoID = errors.New("outbox: inbox: message has no ID")

// Middleware returns the handler middleware of the inbox. For each
// message it begins a transaction, records (group, message ID) in the
// inbox table, and runs the handler with the transaction in its context
// (TxFrom); it commits when the handler returned nil and rolls back
// otherwise (the handler's error is returned: the message is redelivered).
// A message already recorded is not handled again: the middleware returns
// nil (ack) without calling the handler. A second delivery arriving while
// the first is being handled waits for the first's transaction (its
// insert meets the first one's key) and is then skipped, or handled if the
// first rolled back.
func (in *Inbox) Middleware() herald.Middleware {
	ins := "INSERT INTO " + in.table + " (group_name, message_id, handled_at) VALUES (" +
		in.dialect.ph(1) + "," + in.dialect.ph(2) + "," + in.dialect.ph(3) + ") ON CONFLICT DO NOTHING"
	return func(next herald.Handler) herald.Handler {
		return func(ctx context.Context, msg *herald.Message) (err error) {
			id := herald.ID(msg)
			if id == "" {
				return herald.Permanent(ErrNoID)
			}
			in.maybePurge()
			tx, err := in.db.BeginTx(ctx, nil)
			if err != nil {
				return fmt.Errorf("outbox: inbox %s: begin: %w", in.group, err)
			}
			// Rolls back on an error and on a panic of the handler (an open
			// transaction would hold its connection, and SQLite's write
			// lock); a no-op after Commit.
			defer tx.Rollback() //nolint:errcheck // the handler's error matters
			var at any = time.Now().UnixMilli()
			if in.dialect.pg {
				at = time.Now()
			}
			res, err := tx.ExecContext(ctx, ins, in.group, id, at)
			if err != nil {
				return fmt.Errorf("outbox: inbox %s: record %s: %w", in.group, id, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("outbox: inbox %s: record %s: %w", in.group, id, err)
			}
			if n == 0 { // handled before
				return tx.Rollback()
			}
			it := &inboxTx{tx: tx}
			if err := next(context.WithValue(ctx, txKey{}, it), msg); err != nil {
				return err
			}
			if err := tx.Commit(); err != nil {
				return fmt.Errorf("outbox: inbox %s: commit %s: %w", in.group, id, err)
			}
			for _, fn := range it.after {
				fn()
			}
			return nil
		}
	}
}
