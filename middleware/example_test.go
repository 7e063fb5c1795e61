package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

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

// Tracing carries the producer's trace through the backend: the consumer
// span is a child of the producer span.
func ExampleTracing() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	const target = "mem://example-tracing"
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))

	pub, err := publisher.Open(ctx, target, publisher.WithMiddleware(middleware.PublishTracing(middleware.WithTracerProvider(tp))))
	if err != nil {
		panic(err)
	}
	defer pub.Close()
	ready, done := make(chan string, 1), make(chan struct{})
	sub, err := subscriber.Open(ctx, target,
		subscriber.WithMiddleware(middleware.Tracing(middleware.WithTracerProvider(tp)),
			// innermost: runs after the consumer span has started
			func(next herald.Handler) herald.Handler {
				return herald.Handler(func(ctx context.Context, m *herald.Message) error {
					defer close(done)
					return next.Handle(ctx, m)
				})
			}),
		subscriber.WithReady(func(topic string) { ready <- topic }))
	if err != nil {
		panic(err)
	}
	go sub.Subscribe(ctx, "orders", func(context.Context, *herald.Message) error { return nil })
	<-ready
	if err := pub.Publish(ctx, "orders", herald.NewMessage([]byte("order 1"))); err != nil {
		panic(err)
	}
	<-done
	_ = sub.Close() // waits for the handler, so the consumer span has ended

	var producer, consumer sdktrace.ReadOnlySpan
	for _, s := range spans.Ended() {
		switch s.Name() {
		case "send orders":
			producer = s
		case "process orders":
			consumer = s
		}
	}
	fmt.Println("producer:", producer.Name(), producer.SpanKind())
	fmt.Println("consumer:", consumer.Name(), consumer.SpanKind())
	fmt.Println("same trace:", consumer.SpanContext().TraceID() == producer.SpanContext().TraceID())
	fmt.Println("child of the producer span:", consumer.Parent().SpanID() == producer.SpanContext().SpanID())
	// Output:
	// producer: send orders producer
	// consumer: process orders consumer
	// same trace: true
	// child of the producer span: true
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

// Metrics records with any OpenTelemetry MeterProvider; here a manual
// reader shows the counters.
func ExampleMetrics() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	h := herald.Chain(herald.Handler(func(context.Context, *herald.Message) error { return nil }),
		middleware.Metrics(middleware.WithMeterProvider(mp)))
	ctx := herald.ContextWithDelivery(context.Background(), herald.Delivery{Backend: "mem", Topic: "orders"})
	for range 3 {
		_ = h.Handle(ctx, herald.NewMessage(nil))
	}
	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if m.Name == middleware.MetricConsumed {
			fmt.Println(m.Name, m.Data.(metricdata.Sum[int64]).DataPoints[0].Value)
		}
	}
	// Output:
	// herald.messages.consumed 3
}
