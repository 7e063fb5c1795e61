package sdktest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/middleware"
	"github.com/heraldkit/herald/middleware/otelmw"
	"github.com/heraldkit/herald/subscriber"
)

// TestTraceCrossesBroker is issue 4's acceptance test: on every backend,
// the consumer span is in the producer span's trace and its child, after
// the message crossed the backend.
func TestTraceCrossesBroker(t *testing.T) {
	eachBackend(t, func(t *testing.T, target string) {
		spans, tp := newSpanSignal()
		topic := uniq("otel.trace")
		got := newInbox()
		startSub(t, target, uniq("g-trace"), topic, got.handler,
			subscriber.WithMiddleware(otelmw.Tracing(otelmw.WithTracerProvider(tp))))
		pub := openPub(t, target, otelmw.PublishTracing(otelmw.WithTracerProvider(tp)))

		msg := herald.NewMessage([]byte("traced"))
		if err := pub.Publish(context.Background(), topic, msg); err != nil {
			t.Fatal(err)
		}
		got.wait(t, "the traced message", func(m []*herald.Message) bool { return len(m) > 0 })
		spans.waitSpan(t, "the consumer span", named("process "+topic))

		prod, cons := spanNamed(t, spans.SpanRecorder, "send "+topic), spanNamed(t, spans.SpanRecorder, "process "+topic)
		assertChildOf(t, cons, prod)
		if id := attrMap(cons)["messaging.message.id"].AsString(); id != msg.UUID {
			t.Errorf("consumer span messaging.message.id = %q; want %q", id, msg.UUID)
		}
		t.Logf("%s: producer %s/%s -> consumer %s/%s (parent %s)", target, prod.SpanContext().TraceID(), prod.SpanContext().SpanID(),
			cons.SpanContext().TraceID(), cons.SpanContext().SpanID(), cons.Parent().SpanID())
	})
}

// TestRecommendedTelemetry: with otelmw's recommended stacks on every
// backend, in both retry modes, the decisions of Retry and DeadLetter
// about a message that always fails reach the metrics (retried,
// dead-lettered) and the spans (herald.retry, herald.dead_letter events),
// through middleware.Observe.
func TestRecommendedTelemetry(t *testing.T) {
	const attempts = 3
	for _, mode := range []struct {
		name  string
		retry []middleware.RetryOption
	}{
		{"in-handler", []middleware.RetryOption{middleware.MaxAttempts(attempts), middleware.InitialDelay(5 * time.Millisecond)}},
		{"redelivery", []middleware.RetryOption{middleware.Redelivery(), middleware.MaxAttempts(attempts), middleware.InitialDelay(5 * time.Millisecond)}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			eachBackend(t, func(t *testing.T, target string) {
				metrics := newMetricsReader(t)
				spans, tp := newSpanSignal()
				topic := uniq("otel.orders")
				dlq := newInbox()
				startSub(t, target, uniq("g-dlq"), topic+".dlq", dlq.handler)
				cfg := otelmw.Config{
					Config:         middleware.Config{DeadLetterTopic: "{topic}.dlq", Retry: mode.retry},
					TracerProvider: tp, MeterProvider: metrics.mp,
				}
				pub := openPub(t, target, otelmw.RecommendedPublish(cfg)...)
				mws, err := otelmw.Recommended(pub, cfg)
				if err != nil {
					t.Fatal(err)
				}
				startSub(t, target, uniq("g-orders"), topic, func(context.Context, *herald.Message) error {
					return fmt.Errorf("cannot process order: %w", errBoom)
				}, subscriber.WithMiddleware(mws...))

				poison := herald.NewMessage([]byte("poison"))
				if err := pub.Publish(context.Background(), topic, poison); err != nil {
					t.Fatal(err)
				}
				dlq.wait(t, "the dead-lettered message", func(m []*herald.Message) bool { return len(m) > 0 })
				// Tracing is outermost: once the span holding the
				// dead-letter event has ended, Metrics inside it has
				// recorded everything.
				dead := spans.waitSpan(t, "the consumer span with herald.dead_letter", func(sp sdktrace.ReadOnlySpan) bool {
					return sp.Name() == "process "+topic && countEvents(sp, "herald.dead_letter") == 1
				})
				retries := 0
				for _, sp := range spans.Ended() {
					if sp.Name() == "process "+topic {
						retries += countEvents(sp, "herald.retry")
					}
				}
				if retries != attempts-1 {
					t.Errorf("%d herald.retry span events; want %d", retries, attempts-1)
				}
				if id := attrMap(dead)["messaging.message.id"].AsString(); id != poison.UUID {
					t.Errorf("dead-letter span is about message %q; want %q", id, poison.UUID)
				}
				data := metrics.collect()
				dest := attribute.String("messaging.destination.name", topic)
				if n := sum(t, data, otelmw.MetricDeadLettered, dest); n != 1 {
					t.Errorf("dead-lettered metric = %d; want 1", n)
				}
				if n := sum(t, data, otelmw.MetricRetried, dest); n != attempts-1 {
					t.Errorf("retried metric = %d; want %d", n, attempts-1)
				}
			})
		})
	}
}

// countEvents counts the events called name on sp.
func countEvents(sp sdktrace.ReadOnlySpan, name string) int {
	n := 0
	for _, e := range sp.Events() {
		if e.Name == name {
			n++
		}
	}
	return n
}
