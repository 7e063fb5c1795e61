package middleware

import (
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/heraldkit/herald"
)

// Config configures the recommended stacks (see Recommended and
// RecommendedPublish). The zero Config is valid: tracing and metrics
// through the otel globals, retry with the defaults, no logging, no
// dead-lettering.
type Config struct {
	// Logger receives the Logging lines; nil disables logging.
	Logger *slog.Logger
	// DeadLetterTopic is where messages that fail for good are parked
	// (TopicPlaceholder stands for the consumed topic, as in
	// "{topic}.dlq"). Empty disables dead-lettering: a message that
	// exhausts its retries is then nacked and retried again, forever.
	DeadLetterTopic string
	// Retry configures Retry (nil: the defaults: 5 attempts, 100ms initial
	// delay doubling up to 10s, 1m max elapsed, jitter 0.5).
	Retry []RetryOption
	// Timeout, when positive, bounds each attempt (see Timeout).
	Timeout time.Duration
	// Deduplicate adds Deduplicate with these options when non-nil (an
	// empty, non-nil slice: the defaults).
	Deduplicate []DedupOption
	// TracerProvider, Propagator and MeterProvider default to the otel
	// globals (see WithTracerProvider, WithPropagator, WithMeterProvider).
	TracerProvider trace.TracerProvider
	Propagator     propagation.TextMapPropagator
	MeterProvider  metric.MeterProvider
	// DisableTracing and DisableMetrics leave those middleware out.
	DisableTracing bool
	DisableMetrics bool
}

func (c Config) tracing() []TracingOption {
	return []TracingOption{WithTracerProvider(c.TracerProvider), WithPropagator(c.Propagator)}
}

func (c Config) metrics() []MetricsOption {
	return []MetricsOption{WithMeterProvider(c.MeterProvider)}
}

// Recommended returns the consumer middleware Herald recommends, in this
// order (the first is the outermost):
//
//	Tracing        span for the whole delivery, joined to the producer's trace
//	Metrics        counts and times every delivery, retry and dead-letter
//	CorrelationID  correlation ID into ctx, for logs and onward messages
//	Logging        logs retries, dead-letters and failures inside the span
//	Deduplicate    only with cfg.Deduplicate
//	DeadLetter     only with cfg.DeadLetterTopic; sees the final outcome
//	Retry          retries what is inside it
//	Recover        panics become errors that Retry retries
//	Timeout        only with cfg.Timeout; a deadline per attempt
//
// pub publishes the dead-lettered messages (use a publisher with
// RecommendedPublish middleware, so they are traced too); it may be nil
// without a DeadLetterTopic. Pass the result to subscriber.WithMiddleware.
func Recommended(pub herald.Publisher, cfg Config) ([]herald.Middleware, error) {
	if cfg.DeadLetterTopic != "" && pub == nil {
		return nil, &herald.ConfigError{Key: "DeadLetterTopic", Value: cfg.DeadLetterTopic, Problem: "needs a publisher, but pub is nil", Allowed: "a non-nil herald.Publisher, or no DeadLetterTopic"}
	}
	if cfg.Timeout < 0 {
		return nil, &herald.ConfigError{Key: "Timeout", Value: cfg.Timeout.String(), Problem: "is negative", Allowed: "0 (no timeout) or a positive duration"}
	}
	var mws []herald.Middleware
	if !cfg.DisableTracing {
		mws = append(mws, Tracing(cfg.tracing()...))
	}
	if !cfg.DisableMetrics {
		mws = append(mws, Metrics(cfg.metrics()...))
	}
	mws = append(mws, CorrelationID())
	if cfg.Logger != nil {
		mws = append(mws, Logging(cfg.Logger))
	}
	if cfg.Deduplicate != nil {
		mws = append(mws, Deduplicate(cfg.Deduplicate...))
	}
	if cfg.DeadLetterTopic != "" {
		mws = append(mws, DeadLetter(pub, cfg.DeadLetterTopic))
	}
	mws = append(mws, Retry(cfg.Retry...), Recover())
	if cfg.Timeout > 0 {
		mws = append(mws, Timeout(cfg.Timeout))
	}
	return mws, nil
}

// RecommendedPublish returns the publish middleware Herald recommends, in
// this order: PublishTracing (producer span, trace context injected into
// the metadata), PublishCorrelationID, PublishMetrics, PublishLogging
// (with cfg.Logger). Pass the result to publisher.WithMiddleware.
func RecommendedPublish(cfg Config) []herald.PublishMiddleware {
	var mws []herald.PublishMiddleware
	if !cfg.DisableTracing {
		mws = append(mws, PublishTracing(cfg.tracing()...))
	}
	mws = append(mws, PublishCorrelationID())
	if !cfg.DisableMetrics {
		mws = append(mws, PublishMetrics(cfg.metrics()...))
	}
	if cfg.Logger != nil {
		mws = append(mws, PublishLogging(cfg.Logger))
	}
	return mws
}
