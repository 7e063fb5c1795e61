// Command saga is an order saga over NATS JetStream (or any Herald
// backend), choreographed by events:
//
//	orders     places an order            -> order.placed
//	inventory  reserves the items         -> inventory.reserved
//	payments   charges the card           -> payment.charged | payment.failed
//	orders     confirms the order         (on payment.charged)
//	inventory  releases the reservation   -> inventory.released (on payment.failed: compensation)
//	orders     cancels the order          (on inventory.released: compensation)
//
// An order not completed within -cancel-after is auto-cancelled: orders
// writes a delayed OrderTimeout to the outbox in the order's transaction
// (Store.PublishAfter; the relay sends it once due, on any backend, Kafka
// included), and on it cancels the order if it is still placed
// (order.expired; inventory releases the reservation). -stall-every
// makes some orders' card gateway never answer, so that they are stuck.
//
// Each step runs in one database transaction: its effect, its ledger
// entry (keyed by order ID and step), its next event (the transactional
// outbox, package outbox; a relay in each process forwards it) and the
// inbox's record of the message, so a redelivered event is skipped whole
// and a crash never leaves an effect without its next event. Steps are
// retried by redelivery (middleware.Retry with Redelivery);
// saga_steps_total counts each step's outcomes on /metrics, beside
// Herald's own metrics. The database is a SQLite file by default, or
// PostgreSQL (-db postgres://... or EXAMPLE_DB_URL).
//
//	go run ./examples/saga                              # every service in this process, embedded broker
//	go run ./examples/saga -fail-once                   # each step fails once after its commit
//	HERALD_URL=nats://127.0.0.1:4222 go run ./examples/saga
//	go run ./examples/saga -role inventory              # one service (see README.md)
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
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/examples/internal/appdb"
	"github.com/heraldkit/herald/outbox"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "saga:", err)
		stop()
		os.Exit(1)
	}
}

var roles = []string{"all", "orders", "inventory", "payments"}

type options struct {
	role, target, prefix, metricsAddr string
	dbURL, tablePrefix                string
	orderPrefix                       string
	orders, declineEvery, stallEvery  int
	stock                             int
	failOnce, scrape                  bool
	timeout, cancelAfter              time.Duration
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("saga", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.role, "role", "all", "what to run: "+strings.Join(roles, ", ")+" (all: every service in this process)")
	fs.StringVar(&o.target, "target", "", "Herald target URL (empty: HERALD_URL, else the embedded broker)")
	fs.StringVar(&o.prefix, "prefix", "saga", "topic prefix: topics are <prefix>.order.placed and so on")
	fs.StringVar(&o.dbURL, "db", "", "database: postgres:// URL or SQLite file (empty: "+appdb.Env+", else "+defaultDB()+")")
	fs.StringVar(&o.tablePrefix, "tables", "saga_", "prefix of the saga's table names")
	fs.StringVar(&o.metricsAddr, "metrics", "127.0.0.1:9466", "loopback address of /metrics (empty: none)")
	fs.StringVar(&o.orderPrefix, "order-prefix", "", "order IDs are <order-prefix>-1, -2, ... (empty: order-<random>, so that a rerun against running services places new orders)")
	fs.IntVar(&o.orders, "orders", 12, "orders to place (roles all and orders)")
	fs.IntVar(&o.declineEvery, "decline-every", 4, "every n-th order's card is declined, which cancels it (0: none)")
	fs.IntVar(&o.stallEvery, "stall-every", 5, "every n-th other order's card gateway never answers, so the order is stuck until -cancel-after cancels it (0: none)")
	fs.DurationVar(&o.cancelAfter, "cancel-after", 3*time.Second, "an order not completed this long after it was placed is cancelled (a delayed message; 0: never)")
	fs.IntVar(&o.stock, "stock", 1000, "widgets in stock at the start (roles all and inventory)")
	fs.BoolVar(&o.failOnce, "fail-once", false, "make every step fail once right after its transaction committed, before the ack, so that each is redelivered (and skipped by the inbox)")
	fs.BoolVar(&o.scrape, "scrape", false, "print the saga series of /metrics before exiting (roles all and orders)")
	fs.DurationVar(&o.timeout, "timeout", 2*time.Minute, "how long roles all and orders wait for every order to settle")
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
	case o.orders < 0 || o.declineEvery < 0 || o.stallEvery < 0 || o.stock < 0:
		return o, errors.New("-orders, -decline-every, -stall-every and -stock: must not be negative")
	case o.cancelAfter < 0:
		return o, fmt.Errorf("-cancel-after %v: must not be negative (0: never)", o.cancelAfter)
	case o.stallEvery > 0 && o.cancelAfter == 0 && (o.role == "all" || o.role == "orders"):
		return o, errors.New("-stall-every needs -cancel-after > 0: a stalled order is only cancelled by its timeout")
	case o.scrape && o.metricsAddr == "":
		return o, errors.New("-scrape needs -metrics")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	m, err := newMetrics()
	if err != nil {
		return err
	}
	defer m.meters.Shutdown(context.Background())
	db, err := appdb.Open(ctx, o.dbURL, defaultDB())
	if err != nil {
		return err
	}
	defer db.Close()
	t := newTables(o.tablePrefix)
	st := &state{db: db, t: t}
	if err := st.create(ctx, o.stock); err != nil {
		return err
	}
	startStock, err := st.stockOf(ctx, "sku-widget")
	if err != nil {
		return err
	}
	store, err := outbox.New(ctx, db.DB, db.Dialect, outbox.WithTable(t.outbox))
	if err != nil {
		return err
	}
	s := &saga{
		target:   o.target,
		topics:   newTopics(o.prefix),
		out:      &printer{w: stdout},
		logger:   slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		metrics:  m,
		db:       db,
		tables:   t,
		state:    st,
		ledger:   &Ledger{db: db, table: t.ledger},
		store:    store,
		failOnce: o.failOnce,
	}
	s.orders.settled = map[string]bool{}
	s.orders.timedOut = map[string]bool{}
	if o.role == "all" || o.role == "orders" {
		s.cancelAfter = o.cancelAfter
	}
	s.orders.final = make(chan string, 1)

	srvCtx, stopServer := context.WithCancel(ctx)
	defer stopServer()
	url := ""
	if o.metricsAddr != "" {
		if url, err = m.serve(srvCtx, o.metricsAddr); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "metrics on %s\n", url)
	}

	stopRelay, err := s.startRelay(ctx)
	if err != nil {
		return err
	}
	defer stopRelay()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type svc struct {
		group  string
		routes func() []route
	}
	var svcs []svc
	if o.role == "all" || o.role == "inventory" {
		svcs = append(svcs, svc{"inventory", s.inventoryRoutes})
	}
	if o.role == "all" || o.role == "payments" {
		svcs = append(svcs, svc{"payments", s.paymentRoutes})
	}
	if o.role == "all" || o.role == "orders" {
		svcs = append(svcs, svc{"orders", s.orderRoutes})
	}
	errs := make(chan error, len(svcs))
	ready := make(chan struct{}, len(svcs))
	var wg sync.WaitGroup
	for _, v := range svcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.serve(ctx, v.group, v.routes, func() { ready <- struct{}{} })
			if err != nil {
				cancel()
				errs <- err
			}
		}()
	}
	stopAll := func() error {
		cancel()
		wg.Wait()
		close(errs)
		var all error
		for err := range errs {
			all = errors.Join(all, err)
		}
		return all
	}
	for range svcs {
		select {
		case <-ready:
		case <-ctx.Done():
			return errors.Join(stopAll(), ctx.Err())
		}
	}
	if o.role != "all" && o.role != "orders" {
		<-ctx.Done() // a service runs until interrupted
		return stopAll()
	}

	if o.orderPrefix == "" {
		id := herald.NewID()
		o.orderPrefix = "order-" + strings.ToLower(id[len(id)-5:])
	}
	ids, err := s.placeOrders(ctx, o.orderPrefix, o.orders, o.declineEvery, o.stallEvery)
	if err == nil {
		wctx, wcancel := context.WithTimeout(ctx, o.timeout)
		err = s.waitFinal(wctx, ids)
		wcancel()
	}
	if err != nil {
		return errors.Join(err, stopAll())
	}
	if err := stopAll(); err != nil {
		return err
	}
	if err := s.summary(context.Background(), o, ids, startStock); err != nil {
		return err
	}
	if o.scrape {
		return scrape(context.Background(), url, stdout)
	}
	return nil
}

// summary prints the final states of the orders ids (and, with every
// service in this process, the stock), read from the database.
func (s *saga) summary(ctx context.Context, o options, ids []string, startStock int) error {
	states, held, err := s.state.orderStates(ctx, ids)
	if err != nil {
		return err
	}
	count := map[string]int{}
	for _, st := range states {
		count[st]++
	}
	s.out.say("summary: %d confirmed, %d cancelled\n", count["confirmed"], count["cancelled"])
	if s.cancelAfter > 0 {
		n, err := s.state.expired(ctx, ids)
		if err != nil {
			return err
		}
		s.out.say("summary: %d cancelled by their timeout (not completed within %v)\n", n, s.cancelAfter)
	}
	if o.role == "all" {
		stock, err := s.state.stockOf(ctx, "sku-widget")
		if err != nil {
			return err
		}
		s.out.say("summary: sku-widget stock %d -> %d, %d reservation(s) held for confirmed orders\n", startStock, stock, held)
	}
	return nil
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
