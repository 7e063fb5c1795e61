package outbox_test

import (
	"context"
	"database/sql"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/outbox"
)

// Write an order and its payment timeout in one transaction: the
// timeout message is sent 30 minutes later by the relay, to whatever
// backend it publishes to (Kafka included, which has no delayed delivery
// of its own), and never if the transaction rolls back. The runnable
// version, on SQLite and mem://, is Example_publishAfter in the module
// github.com/heraldkit/herald/outbox/outboxtest.
func ExampleStore_PublishAfter() {
	var (
		db    *sql.DB       // sql.Open("pgx", dsn)
		store *outbox.Store // outbox.New(ctx, db, outbox.PostgreSQL); store.NewRelay(pub).Run(ctx) elsewhere
	)
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, "INSERT INTO orders (id, state) VALUES ($1, 'placed')", "order-1"); err != nil {
		return
	}
	m := herald.NewMessage(nil)
	herald.SetKey(m, "order-1")
	if err := store.PublishAfter(ctx, tx, "orders.cancel-if-unpaid", 30*time.Minute, m); err != nil {
		return
	}
	_ = tx.Commit()
}
