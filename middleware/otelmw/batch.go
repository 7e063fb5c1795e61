package otelmw

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/heraldkit/herald"
)

// MetricBatchDuration is the time one call of a batch handler took, in
// seconds (BatchMetrics).
const MetricBatchDuration = "herald.batch.duration"

// Attributes BatchTracing sets on a batch's span once the handler
// returned: how many of its messages were acked, retried, dead-lettered
// (parked) or asked to be dead-lettered with nothing to park them.
const (
	BatchAckedKey        = attribute.Key("herald.batch.acked")
	BatchRetriedKey      = attribute.Key("herald.batch.retried")
	BatchDeadLetteredKey = attribute.Key("herald.batch.dead_lettered")
	BatchUnparkedKey     = attribute.Key("herald.batch.dead_letter_unparked")
)

// BatchTracing returns batch middleware (subscriber.BatchMiddleware) that
// starts one CONSUMER span "process <topic>" per batch, as the messaging
// semantic conventions do for a batch: a new root, linked to the
// producer span of each message that carries trace context (extracted
// from its metadata as Tracing does), with messaging.batch.message_count
// and the attributes of Tracing that hold for the whole batch. Once the
// handler returned, the outcomes are counted on the span
// (herald.batch.acked, ...), each message not acked is a span event
// (herald.retry or herald.dead_letter, with its messaging.message.id),
// and a returned error or a panic passing through fails the span.
//
// Place it first (outermost), so that the span covers the batch
// dead-letter publish too.
func BatchTracing(opts ...TracingOption) herald.BatchMiddleware {
	tracer, prop := newTracing(opts)
	return func(next herald.BatchHandler) herald.BatchHandler {
		return func(ctx context.Context, b *herald.Batch) error {
			d, _ := herald.DeliveryFromContext(ctx)
			p := prop()
			links := make([]trace.Link, 0, b.Len())
			for _, m := range b.Messages {
				psc := trace.SpanContextFromContext(p.Extract(context.Background(), metadataCarrier{m}))
				if psc.IsValid() {
					links = append(links, trace.Link{SpanContext: psc, Attributes: []attribute.KeyValue{semconv.MessagingMessageID(m.UUID)}})
				}
			}
			attrs := []attribute.KeyValue{
				system(d.Backend),
				semconv.MessagingOperationTypeProcess,
				semconv.MessagingOperationName("process"),
				semconv.MessagingDestinationName(d.Topic),
				semconv.MessagingBatchMessageCount(b.Len()),
				backendKey.String(d.Backend),
			}
			if d.Group != "" {
				attrs = append(attrs, semconv.MessagingConsumerGroupName(d.Group))
			}
			ctx, span := tracer.Start(ctx, spanName("process", d.Topic), trace.WithNewRoot(),
				trace.WithSpanKind(trace.SpanKindConsumer), trace.WithLinks(links...), trace.WithAttributes(attrs...))
			defer span.End()
			defer onPanic(func(err error) { failSpan(span, err) })
			err := next.Handle(ctx, b)
			if err != nil {
				failSpan(span, err)
				return err
			}
			span.SetAttributes(
				BatchAckedKey.Int(b.Count(herald.OutcomeAck)),
				BatchRetriedKey.Int(b.Count(herald.OutcomeRetry)),
				BatchDeadLetteredKey.Int(b.Count(herald.OutcomeDeadLettered)),
				BatchUnparkedKey.Int(b.Count(herald.OutcomeDeadLetter)))
			for i, m := range b.Messages {
				r := b.Result(i)
				a := []attribute.KeyValue{semconv.MessagingMessageID(m.UUID), attribute.String("exception.message", errText(r.Err))}
				switch r.Outcome {
				case herald.OutcomeRetry:
					span.AddEvent("herald.retry", trace.WithAttributes(a...))
				case herald.OutcomeDeadLettered:
					span.AddEvent("herald.dead_letter", trace.WithAttributes(append(a, attribute.String("herald.dead_letter_topic", r.DeadLetterTopic))...))
				case herald.OutcomeDeadLetter:
					span.AddEvent("herald.dead_letter_unparked", trace.WithAttributes(a...))
				}
			}
			return nil
		}
	}
}

// BatchMetrics returns batch middleware that records, per message of
// each batch, MetricConsumed, MetricInFlight, MetricFailed (retried, or
// dead-lettered with nothing to park it; error.type of its error) and
// MetricDeadLettered (parked), and per batch MetricBatchDuration. An
// error returned by the handler, or a panic passing through, counts
// every message failed.
func BatchMetrics(opts ...MetricsOption) herald.BatchMiddleware {
	in := newInstruments(opts)
	return func(next herald.BatchHandler) herald.BatchHandler {
		return func(ctx context.Context, b *herald.Batch) error {
			attrs := deliveryAttrs(ctx, true)
			set := metric.WithAttributeSet(attrs)
			n := int64(b.Len())
			in.inFlight.Add(ctx, n, set)
			start := time.Now()
			record := func(err error) {
				in.inFlight.Add(ctx, -n, set)
				in.consumed.Add(ctx, n, set)
				if err != nil {
					fset := metric.WithAttributeSet(withErrorType(attrs, err))
					in.failed.Add(ctx, n, fset)
					in.batchDuration.Record(ctx, time.Since(start).Seconds(), fset)
					return
				}
				for i := range b.Len() {
					switch r := b.Result(i); r.Outcome {
					case herald.OutcomeRetry, herald.OutcomeDeadLetter:
						in.failed.Add(ctx, 1, metric.WithAttributeSet(withErrorType(attrs, r.Err)))
					case herald.OutcomeDeadLettered:
						in.deadLettered.Add(ctx, 1, set)
					}
				}
				in.batchDuration.Record(ctx, time.Since(start).Seconds(), set)
			}
			defer onPanic(record)
			err := next.Handle(ctx, b)
			record(err)
			return err
		}
	}
}
