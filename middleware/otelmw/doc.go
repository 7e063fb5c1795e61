// Package otelmw is Herald's OpenTelemetry middleware: Tracing and
// PublishTracing (spans carried through the broker in the message
// metadata) and Metrics and PublishMetrics (counters and histograms). It
// is a package of its own so that package middleware, whose Retry,
// DeadLetter, Logging and the rest need nothing but the standard library,
// does not make every program link OpenTelemetry. It imports only the
// OpenTelemetry API, never the SDK: the application installs the SDK and
// exporters it wants (see examples/observability and examples/metrics).
//
// # The recommended stack, with telemetry
//
// Recommended and RecommendedPublish return middleware.Recommended's and
// middleware.RecommendedPublish's stacks with Tracing and Metrics
// outermost:
//
//	cfg := otelmw.Config{Config: middleware.Config{Logger: logger, DeadLetterTopic: "{topic}.dlq"}}
//	pub, err := publisher.Open(ctx, url, publisher.WithMiddleware(otelmw.RecommendedPublish(cfg)...))
//	mws, err := otelmw.Recommended(pub, cfg)
//	sub, err := subscriber.Open(ctx, url, subscriber.WithMiddleware(mws...))
//
// Tracing is first so that its span covers the whole delivery (every
// retry, the dead-letter publish) and the middleware inside log and
// measure within it; Metrics is next so that it sees each delivery once,
// with its final outcome. Both hear the decisions of Retry, DeadLetter and
// Deduplicate placed inside them as middleware.Events (see
// middleware.Observe).
//
// # Tracing
//
// Tracing and PublishTracing follow the OpenTelemetry messaging semantic
// conventions (semconv v1.43.0): PRODUCER spans "send <topic>" (and
// "create <topic>" per message of a batch), CONSUMER spans "process
// <topic>" whose parent is the producer span, with messaging.system,
// messaging.destination.name, messaging.operation.type/name,
// messaging.message.id, messaging.message.body.size,
// messaging.consumer.group.name, messaging.message.conversation_id (the
// correlation ID) and herald.backend. Retries, dead-letters and
// duplicates are span events (herald.retry, herald.dead_letter,
// herald.duplicate). The trace context travels in the message metadata as
// traceparent, tracestate and baggage. The tracer provider and propagator
// default to the otel globals; while no global propagator is installed,
// W3C Trace Context and Baggage are used.
//
// # Metrics
//
// Metrics and PublishMetrics record the Metric* instruments through the
// OpenTelemetry metric API (default: the global MeterProvider), with the
// attributes herald.backend, messaging.destination.name and
// messaging.consumer.group.name; failures add error.type, one of panic,
// permanent, timeout, canceled, dead_letter_failed, duplicate_in_flight or
// _OTHER. The instrumentation scope of both is ScopeName. See
// examples/metrics for a Prometheus /metrics endpoint.
//
// # Batches
//
// BatchTracing and BatchMetrics are the batch middleware forms
// (subscriber.BatchMiddleware): one CONSUMER span per batch, a new root
// linked to each message's producer span, with the outcomes counted; the
// per-message counters for every message of the batch, and
// MetricBatchDuration per batch.
//
// # Tests
//
// The tests that need the OpenTelemetry SDK (span recorders, metric
// readers) are in the module under sdktest/, so that this module's go.mod
// does not require the SDK.
package otelmw
