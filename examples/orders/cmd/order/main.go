// Command order is the order service: it writes -n orders to its
// database, each in one transaction with its orders.created event (the
// transactional outbox, package outbox), keyed by order ID, at -rate
// orders per second; a relay in the same process forwards the committed
// events to the broker. It exits once every committed event is
// acknowledged by the broker (-n 0: just relay what is pending, e.g.
// after a crash).
//
//	go run ./examples/orders/cmd/order -n 100 -rate 10
//
// The broker is HERALD_URL's (or -target's), the database EXAMPLE_DB_URL's
// (or -db's; default a SQLite file); see the example's README.
//
// With -check-stock it first asks the inventory service (cmd/inventory)
// whether each order's SKU is in stock, by request/reply with a deadline
// (-stock-timeout): an order out of stock is refused, one the inventory
// service did not answer is not accepted (no responder, or no answer in
// time: said in one line), and the process exits 1 if any was not.
//
// Two settings exist only to show what the outbox is for:
// EXAMPLE_CRASH_AFTER_COMMIT=1 makes the process exit (status 2)
// right after the first commit, before anything is published (the relay
// is not started); -outbox=false publishes after the commit instead of
// through the outbox, so that crash loses the event.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/heraldkit/herald"
	_ "github.com/heraldkit/herald/adapters/all"
	"github.com/heraldkit/herald/examples/internal/appdb"
	"github.com/heraldkit/herald/examples/orders/internal/shop"
	"github.com/heraldkit/herald/examples/orders/internal/stock"
	"github.com/heraldkit/herald/outbox"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/request"
)

// CrashEnv names the variable that makes the service exit right after
// its first commit (for the demonstration and its test only).
const CrashEnv = "EXAMPLE_CRASH_AFTER_COMMIT"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "order:", err)
		stop()
		os.Exit(1)
	}
}

// run writes the orders and returns once the broker has every event.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("order", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("target", "", "Herald target URL (empty: HERALD_URL, else the embedded broker)")
	dbURL := fs.String("db", "", "database: postgres:// URL or SQLite file (empty: "+appdb.Env+", else "+defaultDB()+")")
	tablePrefix := fs.String("tables", "shop_", "prefix of the example's table names")
	topic := fs.String("topic", shop.Topic, "topic of the orders")
	n := fs.Int("n", 100, "orders to write (0: relay what is pending and exit)")
	rate := fs.Float64("rate", 10, "orders per second (0: as fast as the database commits)")
	prefix := fs.String("prefix", "", `order ID prefix (default "order-" and a tag of this run, so runs never share IDs)`)
	rollbackEvery := fs.Int("rollback-every", 0, "roll every k-th order's transaction back after writing it and its event (0: none)")
	checkStock := fs.Bool("check-stock", false, "ask the inventory service (cmd/inventory) whether each order's SKU is in stock before accepting it (request/reply)")
	stockTopic := fs.String("stock-topic", stock.Topic, "topic of the stock queries (-check-stock)")
	stockTimeout := fs.Duration("stock-timeout", time.Second, "how long a stock query waits for the inventory service's answer (-check-stock)")
	skuList := fs.String("skus", "sku-a,sku-b,sku-c", "the SKUs ordered in turn (-check-stock); order i wants 1 + i%3 items")
	useOutbox := fs.Bool("outbox", true, "write the event in the order's transaction (false: publish after the commit, which a crash in between loses)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 0 || *rate < 0 || *rollbackEvery < 0 {
		return fmt.Errorf("-n %d, -rate %v, -rollback-every %d: must not be negative", *n, *rate, *rollbackEvery)
	}
	skus := strings.Split(*skuList, ",")
	if *checkStock && (*stockTimeout <= 0 || slices.Contains(skus, "")) {
		return fmt.Errorf("-stock-timeout %v, -skus %q: the timeout must be > 0 and the SKUs not empty", *stockTimeout, *skuList)
	}
	if *prefix == "" {
		id := herald.NewID()
		*prefix = "order-" + id[len(id)-6:] + "-"
	}
	crash := os.Getenv(CrashEnv) == "1"
	tables := shop.TablesWith(*tablePrefix)
	db, err := appdb.Open(ctx, *dbURL, defaultDB())
	if err != nil {
		return err
	}
	defer db.Close()
	if err := shop.CreateOrders(ctx, db, tables); err != nil {
		return err
	}
	store, err := outbox.New(ctx, db.DB, db.Dialect, outbox.WithTable(tables.Outbox))
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	pub, err := publisher.Open(ctx, *target, publisher.WithLogger(logger))
	if err != nil {
		return err
	}
	defer pub.Close()

	var inventory *request.Client
	if *checkStock {
		if inventory, err = request.Open(ctx, *target, request.WithLogger(logger)); err != nil {
			return err
		}
		defer inventory.Close()
	}
	var checks stockChecks

	relay, err := startRelay(ctx, db, store, pub, tables, !crash)
	if err != nil {
		return err
	}
	defer relay.stop()

	var tick <-chan time.Time
	if *rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / *rate))
		defer t.Stop()
		tick = t.C
	}
	committed := 0
	for i := 1; i <= *n; i++ {
		o := shop.Order{ID: fmt.Sprintf("%s%04d", *prefix, i), Customer: fmt.Sprintf("customer-%d", i%7),
			AmountCents: int64(100 + i*137%9900), Currency: "EUR"}
		if inventory != nil {
			o.SKU, o.Qty = skus[(i-1)%len(skus)], 1+i%3
			ok, err := checks.check(ctx, stdout, inventory, *stockTopic, *stockTimeout, o)
			if err != nil {
				return err
			}
			if !ok {
				if err := wait(ctx, tick, i < *n); err != nil {
					return err
				}
				continue
			}
		}
		msg, err := herald.NewJSONMessage(o)
		if err != nil {
			return err
		}
		herald.SetKey(msg, o.ID)
		rollback := *rollbackEvery > 0 && i%*rollbackEvery == 0
		if err := write(ctx, db, store, tables, *topic, o, msg, *useOutbox, rollback); err != nil {
			return fmt.Errorf("order %s: %w", o.ID, err)
		}
		if rollback {
			fmt.Fprintf(stdout, "order: rolled back %s (message %s)\n", o.ID, msg.UUID)
		} else {
			committed++
			fmt.Fprintf(stdout, "order: committed %s (message %s)\n", o.ID, msg.UUID)
			if crash {
				fmt.Fprintf(stdout, "order: %s=1: exiting right after the commit, before publishing\n", CrashEnv)
				os.Exit(2)
			}
			if !*useOutbox {
				if err := pub.Publish(ctx, *topic, msg); err != nil {
					return fmt.Errorf("order %s: %w", o.ID, err)
				}
			}
		}
		if err := wait(ctx, tick, i < *n); err != nil {
			return err
		}
	}
	relayed, err := relay.drain(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "order: committed %d orders, relayed %d events\n", committed, relayed)
	if err := pub.Close(); err != nil {
		return err
	}
	if inventory != nil {
		return checks.summary(stdout, *n)
	}
	return nil
}

// wait waits for the next tick of the rate, when there is one and more
// orders are to come.
func wait(ctx context.Context, tick <-chan time.Time, more bool) error {
	if tick == nil || !more {
		return nil
	}
	select {
	case <-tick:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// write writes o in one transaction, with its event msg when useOutbox,
// and commits it, or rolls it back.
func write(ctx context.Context, db *appdb.DB, store *outbox.Store, t shop.Tables, topic string, o shop.Order, msg *herald.Message, useOutbox, rollback bool) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit: ErrTxDone
	if err := shop.InsertOrder(ctx, tx, db, t, o); err != nil {
		return err
	}
	if useOutbox {
		if err := store.Publish(ctx, tx, topic, msg); err != nil {
			return err
		}
	}
	if rollback {
		return tx.Rollback()
	}
	return tx.Commit()
}

// defaultDB is the SQLite file of the example's services.
func defaultDB() string { return filepath.Join(os.TempDir(), "herald-orders", "shop.db") }
