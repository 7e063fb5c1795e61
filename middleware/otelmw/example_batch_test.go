package otelmw_test

import (
	"context"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/middleware"
	"github.com/heraldkit/herald/middleware/otelmw"
	"github.com/heraldkit/herald/subscriber"
)

// Batch telemetry for SubscribeBatch: a span per batch linked to each
// message's producer span, and the consumed/failed/dead-lettered counters
// per message. Tracing first, so that its span covers the dead-letter
// publish.
func ExampleBatchTracing() {
	ctx := context.Background()
	sub, err := subscriber.Open(ctx, "mem://example-otel-batch")
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	go sub.SubscribeBatch(ctx, "events", func(context.Context, *herald.Batch) error { return nil },
		subscriber.BatchSize(500),
		subscriber.BatchMiddleware(otelmw.BatchTracing(), otelmw.BatchMetrics(), middleware.BatchRecover()))
}
