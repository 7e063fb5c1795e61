// Command payment charges the orders published to orders.created. Run
// several: the processes of group "payments" share the topic's partitions
// (Kafka) or queue (RabbitMQ, NATS), and when one dies the others get its
// unfinished orders. Each order is paid through the inbox (package
// outbox): the payment row and the record that its message was handled
// are written in one transaction, so a message delivered twice is paid
// once; the payments table's key on the order ID keeps two messages of
// one order from paying it twice.
//
//	go run ./examples/orders/cmd/payment -name payment-1
//
// EXAMPLE_CRASH_AFTER_PAYMENT=1 (for the demonstration and its test
// only) makes the process exit (status 2) right after its first payment
// committed, before the message is acknowledged: the broker delivers it
// again, and the inbox skips it.
//
// The broker is HERALD_URL's (or -target's), the database EXAMPLE_DB_URL's
// (or -db's; default a SQLite file shared by the example's processes); see
// the example's README.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/heraldkit/herald"
	_ "github.com/heraldkit/herald/adapters/all"
	"github.com/heraldkit/herald/examples/internal/appdb"
	"github.com/heraldkit/herald/examples/orders/internal/shop"
	"github.com/heraldkit/herald/middleware"
	"github.com/heraldkit/herald/outbox"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "payment:", err)
		stop()
		os.Exit(1)
	}
}

// run pays orders until ctx ends, then finishes the payments in flight.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("payment", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", fmt.Sprintf("payment-%d", os.Getpid()), "name of this process in the output and the payments table")
	target := fs.String("target", "", "Herald target URL (empty: HERALD_URL, else the embedded broker)")
	group := fs.String("group", "payments", "consumer group the payment processes share")
	topic := fs.String("topic", shop.Topic, "topic of the orders")
	dbURL := fs.String("db", "", "database: postgres:// URL or SQLite file (empty: "+appdb.Env+", else "+defaultDB()+")")
	tablePrefix := fs.String("tables", "shop_", "prefix of the example's table names")
	concurrency := fs.Int("concurrency", 4, "orders paid at once by this process")
	work := fs.Duration("work", 20*time.Millisecond, "how long charging one order takes (the payment provider's call)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	tables := shop.TablesWith(*tablePrefix)
	db, err := appdb.Open(ctx, *dbURL, defaultDB())
	if err != nil {
		return err
	}
	defer db.Close()
	if err := shop.CreatePayments(ctx, db, tables); err != nil {
		return err
	}
	inbox, err := outbox.NewInbox(ctx, db.DB, db.Dialect, *group, outbox.WithInboxTable(tables.Inbox))
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	say := shop.NewPrinter(stdout)

	// Orders that can never be paid (not JSON, no valid ID, no amount) go
	// to orders.created.dlq after Retry gave up or at once (Permanent).
	pub, err := publisher.Open(ctx, *target, publisher.WithLogger(logger))
	if err != nil {
		return err
	}
	defer pub.Close()
	sub, err := subscriber.Open(ctx, *target,
		subscriber.WithGroup(*group),
		subscriber.WithConcurrency(*concurrency),
		subscriber.WithLogger(logger),
		subscriber.WithMiddleware(
			middleware.DeadLetter(pub, middleware.TopicPlaceholder+".dlq"),
			middleware.Retry(middleware.MaxAttempts(5)),
			middleware.Recover()),
		subscriber.WithReady(func(string) { say.Printf("%s: ready in group %s (pid %d)", *name, *group, os.Getpid()) }))
	if err != nil {
		return err
	}
	defer sub.Close()

	pay := func(ctx context.Context, o shop.Order, m *herald.Message) error {
		handled(ctx)
		if err := o.Validate(); err != nil {
			return herald.Permanent(err)
		}
		select { // charge the customer: a call that takes a while
		case <-time.After(*work):
		case <-ctx.Done():
			return ctx.Err()
		}
		// The inbox's transaction: the payment commits with the record
		// that m was handled, or not at all.
		paid, prev, err := shop.Pay(ctx, outbox.TxFrom(ctx), db, tables, shop.Payment{OrderID: o.ID, AmountCents: o.AmountCents,
			Currency: o.Currency, PaidBy: *name, MessageID: m.UUID, PaidAt: time.Now().UTC()})
		if err != nil {
			return err // retried, then redelivered
		}
		// Said once the payment committed: a commit that fails leaves the
		// message to be handled again, and nothing said.
		outbox.AfterCommit(ctx, func() {
			if paid {
				say.Printf("%s: paid %s %d.%02d %s", *name, o.ID, o.AmountCents/100, o.AmountCents%100, o.Currency)
			} else {
				say.Printf("%s: %s already paid by %s, not charged again", *name, o.ID, prev.PaidBy)
			}
		})
		return nil
	}
	// The inbox innermost, so that each attempt of Retry is a transaction
	// of its own; reportSkips outside it says when it skipped a message.
	h := reportSkips(say, *name, os.Getenv(CrashEnv) == "1")(inbox.Middleware()(herald.JSON(pay)))
	err = sub.Subscribe(ctx, *topic, h) // until SIGTERM, then drains
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	say.Printf("%s: stopped", *name)
	return nil
}

// defaultDB is the SQLite file of the example's services.
func defaultDB() string { return filepath.Join(os.TempDir(), "herald-orders", "shop.db") }
