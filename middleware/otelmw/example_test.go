package otelmw_test

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel"

	"github.com/heraldkit/herald"
	_ "github.com/heraldkit/herald/adapters/memory"
	"github.com/heraldkit/herald/middleware"
	"github.com/heraldkit/herald/middleware/otelmw"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// The recommended stacks with tracing and metrics, through the providers
// the application installed with otel.SetTracerProvider and
// otel.SetMeterProvider (the zero Config uses those globals too).
// sdktest/example_test.go runs the same middleware with the SDK and shows
// what it records.
func ExampleRecommended() {
	ctx := context.Background()
	url := "mem://example-otelmw"
	cfg := otelmw.Config{
		Config:         middleware.Config{Logger: slog.Default(), DeadLetterTopic: "{topic}.dlq"},
		TracerProvider: otel.GetTracerProvider(),
		MeterProvider:  otel.GetMeterProvider(),
	}
	pub, err := publisher.Open(ctx, url, publisher.WithMiddleware(otelmw.RecommendedPublish(cfg)...))
	if err != nil {
		panic(err)
	}
	defer pub.Close()
	mws, err := otelmw.Recommended(pub, cfg) // pub publishes the dead letters
	if err != nil {
		panic(err)
	}
	sub, err := subscriber.Open(ctx, url, subscriber.WithMiddleware(mws...))
	if err != nil {
		panic(err)
	}
	defer sub.Close()
}

// Tracing and Metrics on their own, outermost, around middleware of
// package middleware.
func ExampleTracing() {
	mws := []herald.Middleware{
		otelmw.Tracing(otelmw.WithTracerProvider(otel.GetTracerProvider())),
		otelmw.Metrics(otelmw.WithMeterProvider(otel.GetMeterProvider())),
		middleware.Retry(),
	}
	_ = subscriber.WithMiddleware(mws...)
}
