package otelmw

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/middleware"
)

// Metric names. Counters count messages ("{message}"), durations are in
// seconds. Every metric has the attributes herald.backend (the scheme),
// messaging.destination.name (the topic) and, on the consume side when
// there is one, messaging.consumer.group.name; failures add error.type
// (see the package documentation).
const (
	MetricPublished       = "herald.messages.published"     // messages the broker accepted
	MetricConsumed        = "herald.messages.consumed"      // deliveries handled, whatever the outcome
	MetricFailed          = "herald.messages.failed"        // deliveries that failed and were nacked
	MetricRetried         = "herald.messages.retried"       // retries decided by Retry
	MetricDeadLettered    = "herald.messages.dead_lettered" // messages parked by DeadLetter
	MetricDuplicates      = "herald.messages.duplicates"    // duplicates skipped by Deduplicate
	MetricInFlight        = "herald.messages.in_flight"     // deliveries being handled now
	MetricHandlerDuration = "herald.handler.duration"       // time to handle one delivery, retries included
	MetricPublishDuration = "herald.publish.duration"       // time of one Publish call
)

// MetricsOption configures Metrics and PublishMetrics.
type MetricsOption func(*metricsConfig)

type metricsConfig struct {
	provider metric.MeterProvider
}

// WithMeterProvider sets the meter provider (default: the global one,
// otel.GetMeterProvider, which records nothing until the application
// installs an SDK with otel.SetMeterProvider).
func WithMeterProvider(mp metric.MeterProvider) MetricsOption {
	return func(c *metricsConfig) { c.provider = mp }
}

// durationBuckets suits handlers and publishes from a millisecond to a
// minute.
var durationBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

type instruments struct {
	published, consumed, failed, retried, deadLettered, duplicates metric.Int64Counter
	inFlight                                                       metric.Int64UpDownCounter
	handlerDuration, publishDuration, batchDuration                metric.Float64Histogram
}

func newInstruments(opts []MetricsOption) *instruments {
	var c metricsConfig
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	mp := c.provider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := mp.Meter(ScopeName, metric.WithSchemaURL(semconv.SchemaURL))
	var errs []error
	counter := func(name, desc string) metric.Int64Counter {
		c, err := m.Int64Counter(name, metric.WithUnit("{message}"), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	histogram := func(name, desc string) metric.Float64Histogram {
		h, err := m.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc),
			metric.WithExplicitBucketBoundaries(durationBuckets...))
		errs = append(errs, err)
		return h
	}
	in := &instruments{
		published:       counter(MetricPublished, "Messages published and accepted by the broker."),
		consumed:        counter(MetricConsumed, "Deliveries handled, whatever the outcome."),
		failed:          counter(MetricFailed, "Deliveries whose handling failed; the message is redelivered."),
		retried:         counter(MetricRetried, "Retries decided by the Retry middleware."),
		deadLettered:    counter(MetricDeadLettered, "Messages published to a dead-letter topic."),
		duplicates:      counter(MetricDuplicates, "Duplicate deliveries acked without handling."),
		handlerDuration: histogram(MetricHandlerDuration, "Time to handle one delivery, retries included."),
		publishDuration: histogram(MetricPublishDuration, "Time of one Publish call."),
		batchDuration:   histogram(MetricBatchDuration, "Time of one call of a batch handler."),
	}
	var err error
	in.inFlight, err = m.Int64UpDownCounter(MetricInFlight, metric.WithUnit("{message}"),
		metric.WithDescription("Deliveries being handled now."))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		otel.Handle(err) // the instruments returned alongside still work (no-op)
	}
	return in
}

// Metrics returns consumer middleware that records, with the OpenTelemetry
// metric API, MetricConsumed, MetricFailed, MetricInFlight and
// MetricHandlerDuration for every delivery, and MetricRetried,
// MetricDeadLettered and MetricDuplicates for the decisions of Retry,
// DeadLetter and Deduplicate placed inside (after) it. Attributes come
// from herald.DeliveryFromContext. A panic passing through it (with no
// Recover inside) is recorded as a failure with error.type panic, then
// continues.
func Metrics(opts ...MetricsOption) herald.Middleware {
	in := newInstruments(opts)
	return func(next herald.Handler) herald.Handler {
		// The Events of Retry, DeadLetter and Deduplicate inside, with the
		// attributes of the delivery they are about.
		inner := middleware.Observe(middleware.ObserverFunc(func(ctx context.Context, e middleware.Event) {
			set := metric.WithAttributeSet(deliveryAttrs(ctx, true))
			switch e.Kind {
			case middleware.EventRetry:
				in.retried.Add(ctx, 1, set)
			case middleware.EventDeadLetter:
				in.deadLettered.Add(ctx, 1, set)
			case middleware.EventDuplicate:
				in.duplicates.Add(ctx, 1, set)
			}
		}))(next)
		return herald.Handler(func(ctx context.Context, msg *herald.Message) error {
			attrs := deliveryAttrs(ctx, true)
			set := metric.WithAttributeSet(attrs)
			in.inFlight.Add(ctx, 1, set)
			start := time.Now()
			record := func(err error) {
				elapsed := time.Since(start).Seconds()
				in.inFlight.Add(ctx, -1, set)
				in.consumed.Add(ctx, 1, set)
				if err != nil {
					fset := metric.WithAttributeSet(withErrorType(attrs, err))
					in.failed.Add(ctx, 1, fset)
					in.handlerDuration.Record(ctx, elapsed, fset)
				} else {
					in.handlerDuration.Record(ctx, elapsed, set)
				}
			}
			// A panic passing through is a failed delivery (error.type
			// panic), and in_flight must come down.
			defer onPanic(record)
			err := inner.Handle(ctx, msg)
			record(err)
			return err
		})
	}
}

// PublishMetrics returns publish middleware that records MetricPublished
// (messages of successful Publish calls) and MetricPublishDuration (every
// call; failed ones with error.type).
func PublishMetrics(opts ...MetricsOption) herald.PublishMiddleware {
	in := newInstruments(opts)
	return func(next herald.PublishFunc) herald.PublishFunc {
		return func(ctx context.Context, topic string, msgs ...*herald.Message) error {
			start := time.Now()
			record := func(err error) {
				elapsed := time.Since(start).Seconds()
				attrs := deliveryAttrs(ctx, false)
				if d, ok := herald.DeliveryFromContext(ctx); !ok || d.Topic == "" {
					attrs = attribute.NewSet(append(attrs.ToSlice(), semconv.MessagingDestinationName(topic))...)
				}
				if err != nil {
					in.publishDuration.Record(ctx, elapsed, metric.WithAttributeSet(withErrorType(attrs, err)))
					return
				}
				in.published.Add(ctx, int64(len(msgs)), metric.WithAttributeSet(attrs))
				in.publishDuration.Record(ctx, elapsed, metric.WithAttributeSet(attrs))
			}
			defer onPanic(record)
			err := next(ctx, topic, msgs...)
			record(err)
			return err
		}
	}
}

// deliveryAttrs returns the metric attributes for the delivery in ctx.
func deliveryAttrs(ctx context.Context, consumer bool) attribute.Set {
	d, _ := herald.DeliveryFromContext(ctx)
	kv := make([]attribute.KeyValue, 0, 3)
	kv = append(kv, backendKey.String(d.Backend))
	if d.Topic != "" {
		kv = append(kv, semconv.MessagingDestinationName(d.Topic))
	}
	if consumer && d.Group != "" {
		kv = append(kv, semconv.MessagingConsumerGroupName(d.Group))
	}
	return attribute.NewSet(kv...)
}

func withErrorType(s attribute.Set, err error) attribute.Set {
	return attribute.NewSet(append(s.ToSlice(), semconv.ErrorTypeKey.String(errorType(err)))...)
}
