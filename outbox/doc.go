// Package outbox is a transactional outbox and an idempotent inbox on
// database/sql, for PostgreSQL and SQLite.
//
// # Outbox
//
// Store.Publish writes messages (topic, key, headers as JSON, payload,
// ID, time) in the caller's *sql.Tx: they exist only if that transaction
// commits. A Relay forwards committed rows to any Herald backend through
// publisher.PublishAsync, a window of rows in flight (WithBatch), and
// marks a row sent only after the broker acknowledged it: at-least-once.
// A mark that fails is tried again (the row's lease renewed meanwhile);
// a row is sent twice only when its relay stops between the
// acknowledgement and a successful mark (a crash), or when the
// relay was held up for longer than its lease (WithLease, default 15 s):
// while a publish is unanswered the relay renews the row's lease every
// third of it, so a slow broker does not let another relay take the row
// over.
//
// # Order and several relays
//
// Rows of one key are sent in the order written, one at a time: a key's
// next row is claimed only once the previous one was acknowledged and
// marked sent, by whichever relay. Rows of different keys, and rows with
// no key (no order), go in parallel. Several relays share one table:
// each claims ready rows with a lease (UPDATE ... WHERE seq IN (SELECT
// ... FOR UPDATE SKIP LOCKED) on PostgreSQL), so no row is leased to two
// relays at once, and a dead relay's rows are taken over when its lease
// expires. Rows are found by their state (unsent), not behind a cursor,
// so a row committed late is never skipped. On PostgreSQL a keyed row is
// ready only when its transaction is older than every transaction still
// in progress (txid < pg_snapshot_xmin(pg_current_snapshot())): a
// transaction still open cannot hold back an earlier row of the same
// key. The cost: a long transaction (any, on that database) delays keyed
// rows of later transactions until it ends; keyless rows are not delayed.
//
// SQLite has one writer: run one relay per database file. A second is
// correct (its claims wait for the write lock) but only adds contention.
// Use WAL (journal_mode=WAL) and a busy timeout in the DSN. In WAL mode
// the relay's statements that write (claim, mark, renew, release, purge)
// do not wait in SQLite's busy handler, which sleeps 1, 2, 5 ... 100 ms
// between its tries, so that writers committing flat out, who take the
// lock again as soon as they let it go, would win it nearly every time:
// each runs on one connection with its busy timeout off and is tried
// again every 0.5 ms, within the busy timeout the application gave that
// connection (its DSN's busy_timeout; 0: no waiting), which the
// connection gets back afterwards. In the other journal modes a write
// must wait for the readers to drain, which only the busy handler can
// do (it keeps new readers out while it waits): there the relay waits in
// it, and writers flat out leave it behind.
//
// # Wake-up, retention, metrics
//
// An idle relay polls (WithPollInterval, default 100 ms). On PostgreSQL
// each committed insert also sends NOTIFY on the channel named after the
// table (a statement trigger); database/sql cannot LISTEN, so a
// Notifier (WithNotifier) built on the driver's connection wakes the
// relay at once: the module github.com/heraldkit/herald/outbox/pgnotify
// is one on pgx, which reconnects with backoff after the database
// restarted (the relay polls meanwhile). Sent
// rows are deleted after WithRetention (default 24 h; 0 deletes them
// when sent). Relay.Stats reports rows pending, the oldest's age, rows
// relayed, rows in flight and failures (relayed/s: the difference of two
// readings of Relayed); WithOnError sees every failure,
// and failures are logged at warn once per outage (slog.Default).
//
// # Delayed delivery
//
// Store.PublishAt and PublishAfter write a message, in the caller's
// transaction, for delivery at a time: durable delayed delivery on any
// backend, Kafka included (it has none of its own), with the database
// holding the timer. The row waits in <table>_delayed, indexed by due
// time; the relay moves the rows that came due into the outbox (one
// statement on PostgreSQL, FOR UPDATE SKIP LOCKED, so several relays move
// each row once) and sends them as any other row. It looks for them at a
// timer set for the earliest due time, rereads that time at every
// Notifier wake-up, and polls it with the outbox otherwise: a row is sent
// not before its due time (by the relay's clock) and, when the relay
// knew of it before then, a few milliseconds after; at most the poll
// interval after otherwise. The outbox table, its claim and Publish are
// untouched: a row not yet due is never in the outbox, so the claim
// never reads past one.
//
// A moved row gets a new position (seq, and the moving transaction's ID
// on PostgreSQL): its key's rows are sent in the order they came due, a
// Publish being due when written, rows moved together in due-time order
// then written order. A row not yet due never holds back its key (a
// payment timeout does not delay the order's other events), and the
// transaction rule of keyed rows (pg_snapshot_xmin) holds for moved rows
// as for written ones. Stats.Delayed counts the rows not yet due.
//
// # Inbox
//
// Inbox.Middleware records (group, message ID) in one transaction with
// the handler's effects (TxFrom gives the handler that transaction) and
// commits only if the handler returned nil; a message already recorded
// is acked without running the handler. That gives effects that happen
// once per message on top of at-least-once delivery, but only for the
// effects written in that transaction; AfterCommit defers what must
// follow the commit (a line said, a cache updated) until it happened, and
// drops it on a rollback. Records older than the inbox's
// retention (WithInboxRetention, default 7 days) are deleted in the
// background: a redelivery older than that is handled again.
//
// # Schema
//
// New and NewInbox create their table, or migrate it, before they
// return; the versions applied are recorded in <table>_migrations.
// Version 3 of the outbox adds <table>_delayed and changes nothing of
// the outbox table: a table of an earlier version keeps its rows and
// goes on relaying them.
// Table names are configurable (WithTable, WithInboxTable) and
// validated.
//
// # Drivers
//
// The package imports no database driver. Tested with pgx's stdlib
// driver (github.com/jackc/pgx/v5/stdlib) and modernc.org/sqlite. For
// SQLite, modernc.org/sqlite (a translation of SQLite's C to Go) and
// github.com/ncruces/go-sqlite3 (SQLite compiled to WebAssembly, run
// by wazero) are both cgo-free; writing 20000 1 KiB rows in
// transactions of 100 and relaying them to mem:// on this 2-core
// machine ran at about the same speed (modernc 28k-71k rows/s written,
// 26k-52k relayed; ncruces 34k-77k written, 24k-45k relayed, over three
// runs on a shared machine). We test with modernc.org/sqlite: it relayed
// at least as fast in every run, it is the more widely used, and it has
// no WebAssembly runtime to start.
package outbox
