// Command audit records every order event: its group, "audit", gets every
// message of orders.created whatever the payment processes do.
//
//	go run ./examples/orders/cmd/audit
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
	"syscall"

	"github.com/heraldkit/herald"
	_ "github.com/heraldkit/herald/adapters/all"
	"github.com/heraldkit/herald/examples/orders/internal/shop"
	"github.com/heraldkit/herald/subscriber"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "audit:", err)
		stop()
		os.Exit(1)
	}
}

// run prints one line per order event until ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("target", "", "Herald target URL (empty: HERALD_URL, else the embedded broker)")
	group := fs.String("group", "audit", "consumer group of the audit trail")
	topic := fs.String("topic", shop.Topic, "topic of the orders")
	if err := fs.Parse(args); err != nil {
		return err
	}
	say := shop.NewPrinter(stdout)
	sub, err := subscriber.Open(ctx, *target,
		subscriber.WithGroup(*group),
		subscriber.WithLogger(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))),
		subscriber.WithReady(func(string) { say.Printf("audit: ready in group %s", *group) }))
	if err != nil {
		return err
	}
	defer sub.Close()
	// The raw event, not decoded: an audit trail keeps what it cannot read too.
	err = sub.Subscribe(ctx, *topic, func(ctx context.Context, m *herald.Message) error {
		say.Printf("audit: %s message %s %s", herald.Key(m), m.UUID, m.Payload)
		return nil
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	say.Printf("audit: stopped")
	return nil
}
