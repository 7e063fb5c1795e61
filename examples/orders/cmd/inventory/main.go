// Command inventory is the inventory service of the orders example: it
// answers the order service's stock queries ("is SKU X in stock",
// package internal/stock) by request/reply (request.Responder, in group
// "inventory": several inventory processes share the queries). The stock
// is -stock's, in memory.
//
//	go run ./examples/orders/cmd/inventory -stock sku-a=100,sku-b=20,sku-c=0
//
// The broker is HERALD_URL's (or -target's); see the example's README.
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
	"strconv"
	"strings"
	"syscall"

	_ "github.com/heraldkit/herald/adapters/all"
	"github.com/heraldkit/herald/examples/orders/internal/shop"
	"github.com/heraldkit/herald/examples/orders/internal/stock"
	"github.com/heraldkit/herald/request"
	"github.com/heraldkit/herald/subscriber"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "inventory:", err)
		stop()
		os.Exit(1)
	}
}

// run answers stock queries until ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("inventory", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("target", "", "Herald target URL (empty: HERALD_URL, else the embedded broker)")
	group := fs.String("group", "inventory", "consumer group the inventory processes share")
	topic := fs.String("topic", stock.Topic, "topic of the stock queries")
	levels := fs.String("stock", "sku-a=100,sku-b=20,sku-c=0", "the stock: sku=qty,...")
	work := fs.Duration("work", 0, "how long finding an answer takes (longer than the order service's -stock-timeout: its queries time out)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	qty, err := parseStock(*levels)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	say := shop.NewPrinter(stdout)
	c, err := request.Open(ctx, *target, request.WithLogger(logger))
	if err != nil {
		return err
	}
	defer c.Close()
	sub, err := subscriber.Open(ctx, *target,
		subscriber.WithGroup(*group),
		subscriber.WithConcurrency(8),
		subscriber.WithLogger(logger),
		subscriber.WithReady(func(topic string) {
			say.Printf("inventory: ready in group %s on %s (pid %d), stock %s", *group, topic, os.Getpid(), *levels)
		}))
	if err != nil {
		return err
	}
	defer sub.Close()
	err = stock.Serve(ctx, sub, c, *topic, stock.NewLevels(qty), *work, func(q stock.Query, a stock.Answer, err error) {
		switch {
		case err != nil:
			say.Printf("inventory: %s: %v", q.SKU, err)
		case a.InStock:
			say.Printf("inventory: %s: %d available, %d asked: in stock", q.SKU, a.Available, q.Qty)
		default:
			say.Printf("inventory: %s: %d available, %d asked: out of stock", q.SKU, a.Available, q.Qty)
		}
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	if n := c.Dropped(); n > 0 {
		say.Printf("inventory: %d queries dropped: their deadline passed before the answer", n)
	}
	say.Printf("inventory: stopped")
	return nil
}

// parseStock parses "sku=qty,...".
func parseStock(s string) (map[string]int, error) {
	out := map[string]int{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		n, err := strconv.Atoi(v)
		if !ok || k == "" || err != nil || n < 0 {
			return nil, fmt.Errorf("-stock %q: %q is not sku=qty with qty a whole number >= 0", s, kv)
		}
		out[k] = n
	}
	return out, nil
}
