package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/heraldkit/herald"
	_ "github.com/heraldkit/herald/adapters/memory"
	"github.com/heraldkit/herald/middleware"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// The recommended stack on the memory backend: a message that cannot be
// processed is retried, then parked on the dead-letter topic, while the
// others are handled.
func ExampleRecommended() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	const target = "mem://example-recommended"
	cfg := middleware.Config{
		Logger:          nil, // e.g. slog.Default()
		DeadLetterTopic: "{topic}.dlq",
		Retry:           []middleware.RetryOption{middleware.MaxAttempts(3), middleware.InitialDelay(time.Millisecond)},
	}
	pub, err := publisher.Open(ctx, target, publisher.WithMiddleware(middleware.RecommendedPublish(cfg)...))
	if err != nil {
		panic(err)
	}
	defer pub.Close()
	mws, err := middleware.Recommended(pub, cfg)
	if err != nil {
		panic(err)
	}

	ready := make(chan string, 2)
	onReady := subscriber.WithReady(func(topic string) { ready <- topic })
	handled, parked := make(chan string, 10), make(chan *herald.Message, 1)

	sub, err := subscriber.Open(ctx, target, subscriber.WithMiddleware(mws...), onReady)
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	go sub.Subscribe(ctx, "orders", func(ctx context.Context, m *herald.Message) error {
		if string(m.Payload) == "poison" {
			return errors.New("cannot decode order")
		}
		handled <- string(m.Payload)
		return nil
	})
	dlq, err := subscriber.Open(ctx, target, onReady)
	if err != nil {
		panic(err)
	}
	defer dlq.Close()
	go dlq.Subscribe(ctx, "orders.dlq", func(_ context.Context, m *herald.Message) error {
		parked <- m
		return nil
	})
	<-ready
	<-ready

	for _, p := range []string{"poison", "order 1"} {
		if err := pub.Publish(ctx, "orders", herald.NewMessage([]byte(p))); err != nil {
			panic(err)
		}
	}
	fmt.Println("handled:", <-handled)
	m := <-parked
	fmt.Printf("dead-lettered %q from %s after %s attempts: %s\n", m.Payload,
		m.Metadata.Get(middleware.DLQTopicHeader), m.Metadata.Get(middleware.DLQAttemptsHeader),
		m.Metadata.Get(middleware.DLQErrorHeader))
	// Output:
	// handled: order 1
	// dead-lettered "poison" from orders after 3 attempts: cannot decode order
}

// Retry with an OnRetry hook, in a handler chain of its own.
func ExampleRetry() {
	failures := 2
	h := herald.Chain(herald.Handler(func(ctx context.Context, _ *herald.Message) error {
		fmt.Println("attempt", middleware.Attempt(ctx))
		if failures > 0 {
			failures--
			return errors.New("database unavailable")
		}
		return nil
	}), middleware.Retry(
		middleware.MaxAttempts(5),
		middleware.InitialDelay(10*time.Millisecond),
		middleware.OnRetry(func(_ context.Context, e middleware.Event) {
			fmt.Printf("attempt %d failed (%v); slept at least 5ms: %v\n", e.Attempt, e.Err, e.Delay >= 5*time.Millisecond)
		}),
	))
	err := h.Handle(context.Background(), herald.NewMessage(nil))
	fmt.Println("result:", err)
	// Output:
	// attempt 1
	// attempt 1 failed (database unavailable); slept at least 5ms: true
	// attempt 2
	// attempt 2 failed (database unavailable); slept at least 5ms: true
	// attempt 3
	// result: <nil>
}

// A correlation ID travels from a consumed message to the messages
// published while handling it.
func ExampleCorrelationID() {
	publish := herald.ChainPublish(func(_ context.Context, topic string, msgs ...*herald.Message) error {
		fmt.Println("published to", topic, "with correlation ID", msgs[0].Metadata.Get(middleware.CorrelationIDHeader))
		return nil
	}, middleware.PublishCorrelationID())
	h := herald.Chain(herald.Handler(func(ctx context.Context, _ *herald.Message) error {
		fmt.Println("handling", middleware.CorrelationIDFromContext(ctx))
		return publish(ctx, "invoices", herald.NewMessage(nil))
	}), middleware.CorrelationID())

	in := herald.NewMessage(nil)
	in.Metadata.Set(middleware.CorrelationIDHeader, "checkout-42")
	_ = h.Handle(context.Background(), in)
	// Output:
	// handling checkout-42
	// published to invoices with correlation ID checkout-42
}

// Deduplicate acks a message it has already processed without calling the
// handler again.
func ExampleDeduplicate() {
	h := herald.Chain(herald.Handler(func(_ context.Context, m *herald.Message) error {
		fmt.Println("handling", string(m.Payload))
		return nil
	}), middleware.Deduplicate(middleware.DedupSize(1000), middleware.DedupTTL(time.Hour)))
	m := herald.NewMessage([]byte("order 1"))
	for range 3 { // the broker delivers it three times
		_ = h.Handle(context.Background(), m)
	}
	// Output:
	// handling order 1
}

// Logging writes structured lines; here without time and durations so the
// output is stable.
func ExampleLogging() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "duration" || a.Key == "message_id" {
				return slog.Attr{}
			}
			return a
		},
	}))
	h := herald.Chain(herald.Handler(func(context.Context, *herald.Message) error {
		return errors.New("payment service unavailable")
	}), middleware.Logging(logger))
	ctx := herald.ContextWithDelivery(context.Background(), herald.Delivery{Backend: "mem", Topic: "orders", Group: "billing"})
	_ = h.Handle(ctx, herald.NewMessage([]byte("never logged")))
	// Output:
	// level=ERROR msg="herald: handler failed; message will be redelivered" topic=orders group=billing backend=mem attempt=1 error="payment service unavailable"
	// level=DEBUG msg="herald: message handled" topic=orders group=billing backend=mem outcome=nacked attempt=1
}
