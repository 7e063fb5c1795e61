package otelmw

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/middleware"
)

// TracingOption configures Tracing and PublishTracing.
type TracingOption func(*tracingConfig)

type tracingConfig struct {
	provider   trace.TracerProvider
	propagator propagation.TextMapPropagator
}

// WithTracerProvider sets the tracer provider (default: the global one,
// otel.GetTracerProvider, which records nothing until the application
// installs an SDK with otel.SetTracerProvider).
func WithTracerProvider(tp trace.TracerProvider) TracingOption {
	return func(c *tracingConfig) { c.provider = tp }
}

// WithPropagator sets how trace context travels in message metadata
// (default: the global propagator, otel.GetTextMapPropagator; while none
// is installed, W3C Trace Context and Baggage, so traces cross the broker
// even in applications that set up only a tracer provider).
func WithPropagator(p propagation.TextMapPropagator) TracingOption {
	return func(c *tracingConfig) { c.propagator = p }
}

// w3c is the propagator used while no global one is installed.
var w3c = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

func newTracing(opts []TracingOption) (trace.Tracer, func() propagation.TextMapPropagator) {
	var c tracingConfig
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	tp := c.provider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	tracer := tp.Tracer(ScopeName, trace.WithSchemaURL(semconv.SchemaURL))
	prop := func() propagation.TextMapPropagator {
		if c.propagator != nil {
			return c.propagator
		}
		if p := otel.GetTextMapPropagator(); len(p.Fields()) > 0 {
			return p
		}
		return w3c
	}
	return tracer, prop
}

// Tracing returns consumer middleware that follows the OpenTelemetry
// messaging semantic conventions: it extracts the trace context the
// producer injected into the message metadata and starts a CONSUMER span
// "process <topic>" whose parent (and link) is the producer's span, so the
// consumer joins the producer's trace across the broker. The span carries
// messaging.system, messaging.destination.name,
// messaging.consumer.group.name, messaging.message.id,
// messaging.message.body.size and, with CorrelationID,
// messaging.message.conversation_id; baggage is extracted into ctx too.
// Retries and dead-lettering inside it are span events; a failed delivery
// records the error and sets the span status to Error, and so does a
// panic passing through (error.type panic). A message without trace
// context starts a new trace.
//
// Place it first (outermost), so that the span covers the whole delivery
// and the other middleware log and measure inside it.
func Tracing(opts ...TracingOption) herald.Middleware {
	tracer, prop := newTracing(opts)
	return func(next herald.Handler) herald.Handler {
		// The Events of Retry, DeadLetter and Deduplicate inside become
		// events of this instance's span, found in their ctx under key.
		key := &spanKey{}
		inner := middleware.Observe(middleware.ObserverFunc(func(ctx context.Context, e middleware.Event) {
			if span, ok := ctx.Value(key).(trace.Span); ok {
				spanEvent(span, e)
			}
		}))(next)
		return herald.Handler(func(ctx context.Context, msg *herald.Message) error {
			d, _ := herald.DeliveryFromContext(ctx)
			pctx := prop().Extract(ctx, metadataCarrier{msg})
			startOpts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindConsumer)}
			if psc := trace.SpanContextFromContext(pctx); psc.IsValid() && psc.IsRemote() {
				startOpts = append(startOpts, trace.WithLinks(trace.Link{SpanContext: psc}))
			} else {
				startOpts = append(startOpts, trace.WithNewRoot())
			}
			attrs := []attribute.KeyValue{
				system(d.Backend),
				semconv.MessagingOperationTypeProcess,
				semconv.MessagingOperationName("process"),
				semconv.MessagingDestinationName(d.Topic),
				semconv.MessagingMessageID(msg.UUID),
				semconv.MessagingMessageBodySize(len(msg.Payload)),
				backendKey.String(d.Backend),
			}
			if d.Group != "" {
				attrs = append(attrs, semconv.MessagingConsumerGroupName(d.Group))
			}
			if id := msg.Metadata.Get(middleware.CorrelationIDHeader); id != "" {
				attrs = append(attrs, semconv.MessagingMessageConversationID(id))
			}
			startOpts = append(startOpts, trace.WithAttributes(attrs...))
			ctx, span := tracer.Start(pctx, spanName("process", d.Topic), startOpts...)
			defer span.End()
			ctx = context.WithValue(ctx, key, span)
			// A panic passing through fails the span, then continues.
			defer onPanic(func(err error) { failSpan(span, err) })
			err := inner.Handle(ctx, msg)
			if err != nil {
				failSpan(span, err)
			}
			return err
		})
	}
}

// spanKey is the context key under which one Tracing instance keeps its
// span for its observer. It is not zero-sized, so that each instance's
// key (a pointer) is distinct.
type spanKey struct{ _ byte }

// spanEvent records e, a decision of Retry, DeadLetter or Deduplicate,
// as an event of span.
func spanEvent(span trace.Span, e middleware.Event) {
	switch e.Kind {
	case middleware.EventRetry:
		a := []attribute.KeyValue{attribute.Int("herald.attempt", e.Attempt), attribute.String("herald.delay", e.Delay.String()), attribute.Bool("herald.redelivery", e.Redelivery)}
		if e.Err != nil {
			a = append(a, attribute.String("exception.message", e.Err.Error()))
		}
		span.AddEvent("herald.retry", trace.WithAttributes(a...))
	case middleware.EventDeadLetter:
		span.AddEvent("herald.dead_letter", trace.WithAttributes(
			attribute.Int("herald.attempts", e.Attempt),
			attribute.String("herald.dead_letter_topic", e.DeadLetterTopic),
			attribute.String("exception.message", errText(e.Err))))
	case middleware.EventDuplicate:
		span.AddEvent("herald.duplicate")
	}
}

// failSpan records err on span and sets its status and error.type.
func failSpan(span trace.Span, err error) {
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
	span.SetAttributes(semconv.ErrorTypeKey.String(errorType(err)))
}

// PublishTracing returns publish middleware that starts a PRODUCER span
// "send <topic>" for each Publish call of one message and injects its
// context (W3C traceparent, tracestate and baggage by default) into the
// message metadata, where Tracing on the consumer side finds it. For a
// batch, each message gets its own PRODUCER "create <topic>" span, whose
// context is injected into it, and the call a CLIENT "send <topic>" span
// linked to them. Errors are recorded on the send span.
//
// Place it first (outermost) among publish middleware.
func PublishTracing(opts ...TracingOption) herald.PublishMiddleware {
	tracer, prop := newTracing(opts)
	return func(next herald.PublishFunc) herald.PublishFunc {
		return func(ctx context.Context, topic string, msgs ...*herald.Message) error {
			d, _ := herald.DeliveryFromContext(ctx)
			p := prop()
			common := []attribute.KeyValue{
				system(d.Backend),
				semconv.MessagingDestinationName(topic),
				backendKey.String(d.Backend),
			}
			var span trace.Span
			var sctx context.Context
			if len(msgs) == 1 {
				m := msgs[0]
				attrs := append(common,
					semconv.MessagingOperationTypeSend,
					semconv.MessagingOperationName("send"),
					semconv.MessagingMessageID(m.UUID),
					semconv.MessagingMessageBodySize(len(m.Payload)))
				sctx, span = tracer.Start(ctx, spanName("send", topic),
					trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(attrs...))
				p.Inject(sctx, metadataCarrier{m})
			} else {
				links := make([]trace.Link, 0, len(msgs))
				for _, m := range msgs {
					attrs := append(common[:len(common):len(common)],
						semconv.MessagingOperationTypeCreate,
						semconv.MessagingOperationName("create"),
						semconv.MessagingMessageID(m.UUID),
						semconv.MessagingMessageBodySize(len(m.Payload)))
					cctx, cspan := tracer.Start(ctx, spanName("create", topic),
						trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(attrs...))
					p.Inject(cctx, metadataCarrier{m})
					links = append(links, trace.Link{SpanContext: cspan.SpanContext()})
					cspan.End()
				}
				attrs := append(common,
					semconv.MessagingOperationTypeSend,
					semconv.MessagingOperationName("send"),
					semconv.MessagingBatchMessageCount(len(msgs)))
				sctx, span = tracer.Start(ctx, spanName("send", topic),
					trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...), trace.WithLinks(links...))
			}
			defer span.End()
			defer onPanic(func(err error) { failSpan(span, err) })
			err := next(sctx, topic, msgs...)
			if len(msgs) == 1 {
				if id := msgs[0].Metadata.Get(middleware.CorrelationIDHeader); id != "" {
					span.SetAttributes(semconv.MessagingMessageConversationID(id))
				}
			}
			if err != nil {
				failSpan(span, err)
			}
			return err
		}
	}
}

// spanName is "<operation> <topic>" (or the operation alone without a
// topic), as the messaging conventions name spans.
func spanName(op, topic string) string {
	if topic == "" {
		return op
	}
	return op + " " + topic
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// metadataCarrier lets a propagator read and write a message's metadata.
// Get falls back to a case-insensitive match, for backends whose headers
// change the case of keys.
type metadataCarrier struct{ m *herald.Message }

var _ propagation.TextMapCarrier = metadataCarrier{}

// Get returns the value of key.
func (c metadataCarrier) Get(key string) string {
	if v, ok := c.m.Metadata[key]; ok {
		return v
	}
	for k, v := range c.m.Metadata {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}

// Set sets key to value.
func (c metadataCarrier) Set(key, value string) {
	if c.m.Metadata == nil {
		c.m.Metadata = make(map[string]string)
	}
	c.m.Metadata[key] = value
}

// Keys lists the metadata keys.
func (c metadataCarrier) Keys() []string {
	keys := make([]string, 0, len(c.m.Metadata))
	for k := range c.m.Metadata {
		keys = append(keys, k)
	}
	return keys
}
