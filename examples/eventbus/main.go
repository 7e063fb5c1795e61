// Command eventbus is an event bus with typed domain events: an orders
// service publishes OrderCreated; inventory and payments react to it and
// publish InventoryReserved and PaymentCompleted; audit records every
// event. Each service is a consumer group of its own, so each gets every
// event it subscribes to (fan-out), and several processes of one service
// share its events. Events that do not decode are dead-lettered to
// "<topic>.dlq" by each group that received them, and the dlq service shows
// them.
//
//	go run ./examples/eventbus                      # every service in one process, on the embedded broker
//	go run ./examples/eventbus -target mem://bus    # the same in memory
//	go run ./examples/eventbus -role inventory      # one service (HERALD_URL names a shared broker)
//
// See README.md for running the services as separate processes.
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
	"slices"
	"strings"
	"sync"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "eventbus:", err)
		stop()
		os.Exit(1)
	}
}

// roles are the values of -role.
var roles = []string{"all", "orders", "inventory", "payments", "audit", "dlq"}

// options are the command line.
type options struct {
	role      string
	target    string
	prefix    string
	orders    int
	malformed int
	exitAfter int
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("eventbus", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.role, "role", "all", "what to run: "+strings.Join(roles, ", ")+" (all: every service in this process)")
	fs.StringVar(&o.target, "target", "", "Herald target URL (empty: HERALD_URL, else the embedded broker)")
	fs.StringVar(&o.prefix, "prefix", "shop", "topic prefix: topics are <prefix>.order.created and so on")
	fs.IntVar(&o.orders, "orders", 5, "orders to place (roles all and orders)")
	fs.IntVar(&o.malformed, "malformed", 1, "undecodable OrderCreated events to publish as well (roles all and orders)")
	fs.IntVar(&o.exitAfter, "exit-after", 0, "a service exits after handling this many distinct events (0: run until interrupted)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected argument %q: this command takes flags only", fs.Arg(0))
	case !slices.Contains(roles, o.role):
		return o, fmt.Errorf("-role %q: unknown; allowed: %s", o.role, strings.Join(roles, ", "))
	case o.prefix == "":
		return o, errors.New("-prefix: must not be empty")
	case o.orders < 0 || o.malformed < 0 || o.exitAfter < 0:
		return o, errors.New("-orders, -malformed and -exit-after: must not be negative")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	events, err := NewEvents(o.prefix)
	if err != nil {
		return err
	}
	b := &bus{
		target: o.target,
		events: events,
		out:    &printer{w: stdout},
		logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	switch o.role {
	case "all":
		return b.all(ctx, o)
	case "orders":
		return b.placeOrders(ctx, o.orders, o.malformed)
	default:
		return b.serve(ctx, b.service(o.role), o.exitAfter, nil)
	}
}

// all runs every service in this process, places the orders, and returns
// once each service has handled every event it gets.
func (b *bus) all(ctx context.Context, o options) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n, bad := o.orders, o.malformed
	// What each service handles: inventory and payments every OrderCreated
	// (the malformed ones too: they dead-letter them), audit every event,
	// dlq one parked copy of each malformed event per group.
	expect := map[string]int{"inventory": n + bad, "payments": n + bad, "audit": 3*n + bad, "dlq": 3 * bad}
	names := []string{"dlq", "audit", "inventory", "payments"}
	errs := make(chan error, len(names))
	ready := make(chan struct{}, len(names))
	for _, name := range names {
		go func() {
			err := b.serve(ctx, b.service(name), expect[name], func() { ready <- struct{}{} })
			if err != nil {
				cancel()
			}
			errs <- err
		}()
	}
	for range names {
		select {
		case <-ready:
		case err := <-errs:
			return err
		}
	}
	if err := b.placeOrders(ctx, n, bad); err != nil {
		return err
	}
	var all error
	for range names {
		all = errors.Join(all, <-errs)
	}
	if all == nil {
		b.out.say("all: every service handled its events\n")
	}
	return all
}

// printer writes whole lines from several goroutines.
type printer struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *printer) say(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format, args...)
}
