// Command order is the order service: it publishes -n orders to
// orders.created, keyed by order ID, each acknowledged by the broker
// before the next, at -rate orders per second, then exits.
//
//	go run ./examples/orders/cmd/order -n 100 -rate 10
//
// The broker is HERALD_URL's (or -target's); see the example's README.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/heraldkit/herald"
	_ "github.com/heraldkit/herald/adapters/all"
	"github.com/heraldkit/herald/examples/orders/internal/shop"
	"github.com/heraldkit/herald/publisher"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "order:", err)
		stop()
		os.Exit(1)
	}
}

// run publishes the orders and returns once the broker has them all.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("order", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("target", "", "Herald target URL (empty: HERALD_URL, else the embedded broker)")
	topic := fs.String("topic", shop.Topic, "topic of the orders")
	n := fs.Int("n", 100, "orders to publish")
	rate := fs.Float64("rate", 10, "orders per second (0: as fast as the broker acknowledges)")
	prefix := fs.String("prefix", "", `order ID prefix (default "order-" and a tag of this run, so runs never share IDs)`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 0 || *rate < 0 {
		return fmt.Errorf("-n %d, -rate %v: must not be negative", *n, *rate)
	}
	if *prefix == "" {
		id := herald.NewID()
		*prefix = "order-" + id[len(id)-6:] + "-"
	}
	pub, err := publisher.Open(ctx, *target,
		publisher.WithLogger(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	if err != nil {
		return err
	}
	defer pub.Close()

	var tick <-chan time.Time
	if *rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / *rate))
		defer t.Stop()
		tick = t.C
	}
	for i := 1; i <= *n; i++ {
		o := shop.Order{ID: fmt.Sprintf("%s%04d", *prefix, i), Customer: fmt.Sprintf("customer-%d", i%7),
			AmountCents: int64(100 + i*137%9900), Currency: "EUR"}
		msg, err := herald.NewJSONMessage(o)
		if err != nil {
			return err
		}
		herald.SetKey(msg, o.ID)
		if err := pub.Publish(ctx, *topic, msg); err != nil { // nil: the broker has it
			return fmt.Errorf("order %s: %w", o.ID, err)
		}
		fmt.Fprintf(stdout, "order: published %s (message %s)\n", o.ID, msg.UUID)
		if tick != nil && i < *n {
			select {
			case <-tick:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	fmt.Fprintf(stdout, "order: published %d orders\n", *n)
	return pub.Close()
}
