package outboxtest_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // "sqlite"

	"github.com/heraldkit/herald"
	_ "github.com/heraldkit/herald/adapters/memory"
	"github.com/heraldkit/herald/outbox"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// An order auto-cancelled after a timeout: the order's row and a delayed
// "cancel if unpaid" message are written in one transaction; the relay
// sends the message once it is due, to any backend (Kafka included),
// here mem://. The rows wait in the database, so the timeout survives a
// restart of the application, its relay or the database.
func Example_publishAfter() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "outbox-example")
	defer os.RemoveAll(dir)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "app.db")+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	if err != nil {
		panic(err)
	}
	defer db.Close()
	store, err := outbox.New(ctx, db, outbox.SQLite)
	if err != nil {
		panic(err)
	}
	if _, err := db.ExecContext(ctx, "CREATE TABLE orders (id TEXT PRIMARY KEY, state TEXT)"); err != nil {
		panic(err)
	}

	sub, _ := subscriber.Open(ctx, "mem://shop", subscriber.WithGroup("billing"))
	defer sub.Close()
	_ = sub.Prepare(ctx, "orders.cancel-if-unpaid")
	got := make(chan string)
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go sub.Subscribe(sctx, "orders.cancel-if-unpaid", func(_ context.Context, m *herald.Message) error { //nolint:errcheck
		got <- herald.Key(m)
		return nil
	})
	pub, _ := publisher.Open(ctx, "mem://shop")
	defer pub.Close()
	relay, _ := store.NewRelay(pub)
	relayed := make(chan struct{})
	go func() { defer close(relayed); relay.Run(sctx) }() //nolint:errcheck

	const timeout = 200 * time.Millisecond // in production: 30 * time.Minute
	tx, _ := db.BeginTx(ctx, nil)
	_, _ = tx.ExecContext(ctx, "INSERT INTO orders (id, state) VALUES (?, 'placed')", "order-1")
	m := herald.NewMessage(nil)
	herald.SetKey(m, "order-1")
	due := time.Now().Add(timeout)
	if err := store.PublishAfter(ctx, tx, "orders.cancel-if-unpaid", timeout, m); err != nil {
		panic(err)
	}
	if err := tx.Commit(); err != nil { // rolled back: no order, no timeout
		panic(err)
	}

	select {
	case key := <-got:
		fmt.Println("cancel if unpaid:", key, "not before its due time:", !time.Now().Before(due))
	case <-time.After(30 * time.Second):
		fmt.Println("not delivered within 30 s")
	}
	stop()
	<-relayed // Run returns once what it sent is marked sent
	// Output: cancel if unpaid: order-1 not before its due time: true
}
