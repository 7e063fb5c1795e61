package sdktest

import (
	"context"
	"fmt"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/heraldkit/herald"
	_ "github.com/heraldkit/herald/adapters/memory"
	"github.com/heraldkit/herald/middleware/otelmw"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// otelmw.Tracing carries the producer's trace through the backend: the consumer
// span is a child of the producer span.
func Example_tracing() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	const target = "mem://example-tracing"
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))

	pub, err := publisher.Open(ctx, target, publisher.WithMiddleware(otelmw.PublishTracing(otelmw.WithTracerProvider(tp))))
	if err != nil {
		panic(err)
	}
	defer pub.Close()
	ready, done := make(chan string, 1), make(chan struct{})
	sub, err := subscriber.Open(ctx, target,
		subscriber.WithMiddleware(otelmw.Tracing(otelmw.WithTracerProvider(tp)),
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

// otelmw.Metrics records with any OpenTelemetry MeterProvider; here a manual
// reader shows the counters.
func Example_metrics() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	h := herald.Chain(herald.Handler(func(context.Context, *herald.Message) error { return nil }),
		otelmw.Metrics(otelmw.WithMeterProvider(mp)))
	ctx := herald.ContextWithDelivery(context.Background(), herald.Delivery{Backend: "mem", Topic: "orders"})
	for range 3 {
		_ = h.Handle(ctx, herald.NewMessage(nil))
	}
	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if m.Name == otelmw.MetricConsumed {
			fmt.Println(m.Name, m.Data.(metricdata.Sum[int64]).DataPoints[0].Value)
		}
	}
	// Output:
	// herald.messages.consumed 3
}
