// Command orders is a small order pipeline: a checkout publishes orders, a
// payments service consumes them with Herald's recommended middleware
// (tracing, metrics, logging, dead-letter, retry, recover), and an
// operations consumer reads the dead-letter topic. One order is poison
// (a negative amount, a herald.Permanent error) and one fails twice before
// it succeeds, so the program shows retry and dead-lettering end to end.
//
//	go run ./examples/orders                         # embedded broker
//	HERALD_URL=kafka://127.0.0.1:9092 go run ./examples/orders
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldkit/herald"
	_ "github.com/heraldkit/herald/adapters/all"
	"github.com/heraldkit/herald/middleware"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// Order is the event the checkout publishes.
type Order struct {
	ID     string  `json:"id"`
	Amount float64 `json:"amount"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := run(ctx, "", os.Stdout, logger); err != nil {
		log.Fatal(err)
	}
}

// run publishes the orders on target ("" = HERALD_URL or embedded) and
// returns once every order was paid or dead-lettered.
func run(ctx context.Context, target string, out io.Writer, logger *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	runID := herald.NewID() // topics of this run, so reruns never mix
	topic, dlq := "orders.created."+runID, "orders.created."+runID+".dlq"

	cfg := middleware.Config{Logger: logger, DeadLetterTopic: dlq,
		Retry: []middleware.RetryOption{middleware.MaxAttempts(3), middleware.InitialDelay(10 * time.Millisecond)}}
	pub, err := publisher.Open(ctx, target, publisher.WithMiddleware(middleware.RecommendedPublish(cfg)...))
	if err != nil {
		return err
	}
	defer pub.Close()
	mws, err := middleware.Recommended(pub, cfg)
	if err != nil {
		return err
	}

	orders := []Order{{"order-1", 25.50}, {"order-2", -5}, {"order-3", 99}, {"order-4", 7.25}}
	var settled sync.WaitGroup
	settled.Add(len(orders))
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, format, args...)
	}

	// payments: order-3's payment gateway fails twice, then recovers.
	var gatewayFailures atomic.Int32
	payments := func(ctx context.Context, o Order, m *herald.Message) error {
		if o.Amount <= 0 {
			return herald.Permanent(fmt.Errorf("order %s: amount %.2f is not positive", o.ID, o.Amount))
		}
		if o.ID == "order-3" && gatewayFailures.Add(1) <= 2 {
			return errors.New("payment gateway timeout")
		}
		say("payments: charged %s %.2f (attempt %d)\n", o.ID, o.Amount, middleware.Attempt(ctx))
		settled.Done()
		return nil
	}
	// operations: reads what payments gave up on.
	operations := func(ctx context.Context, m *herald.Message) error {
		say("operations: dead letter %s after %s attempt(s): %s\n",
			herald.Key(m), m.Metadata.Get(middleware.DLQAttemptsHeader), m.Metadata.Get(middleware.DLQErrorHeader))
		settled.Done()
		return nil
	}

	errs := make(chan error, 2)
	for _, s := range []struct {
		group, topic string
		h            herald.Handler
		mws          []herald.Middleware
	}{
		{"payments", topic, herald.JSON(payments), mws},
		{"operations", dlq, operations, nil},
	} {
		ready := make(chan string, 1)
		sub, err := subscriber.Open(ctx, target, subscriber.WithGroup(s.group), subscriber.WithConcurrency(4),
			subscriber.WithMiddleware(s.mws...), subscriber.WithReady(func(string) { ready <- s.group }))
		if err != nil {
			return err
		}
		defer sub.Close()
		go func() { errs <- sub.Subscribe(ctx, s.topic, s.h) }()
		select {
		case <-ready:
		case err := <-errs:
			return err
		}
	}

	for _, o := range orders {
		if err := herald.PublishJSON(ctx, pub, topic, o.ID, o); err != nil {
			return err
		}
		say("checkout: published %s\n", o.ID)
	}
	done := make(chan struct{})
	go func() { settled.Wait(); close(done) }()
	select {
	case <-done:
		say("all orders settled\n")
		return nil
	case <-ctx.Done():
		return fmt.Errorf("orders not settled: %w", ctx.Err())
	}
}
