package otelmw

import (
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/middleware"
)

// Config configures the recommended stacks with telemetry (see Recommended
// and RecommendedPublish): middleware.Config for the stack inside, and the
// OpenTelemetry providers. The zero Config is valid: tracing and metrics
// through the otel globals, and middleware.Config's defaults.
type Config struct {
	middleware.Config
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

// Recommended returns the consumer middleware Herald recommends, with
// telemetry, in this order (the first is the outermost):
//
//	Tracing   span for the whole delivery, joined to the producer's trace
//	Metrics   counts and times every delivery, retry and dead-letter
//	...       middleware.Recommended(pub, cfg.Config): CorrelationID,
//	          Logging, Deduplicate, DeadLetter, Retry, Recover, Timeout
//
// It returns middleware.Recommended's error for an invalid cfg.Config.
// Pass the result to subscriber.WithMiddleware; pub, which publishes the
// dead-lettered messages, should have the RecommendedPublish middleware,
// so that they are traced too.
func Recommended(pub herald.Publisher, cfg Config) ([]herald.Middleware, error) {
	inner, err := middleware.Recommended(pub, cfg.Config)
	if err != nil {
		return nil, err
	}
	var mws []herald.Middleware
	if !cfg.DisableTracing {
		mws = append(mws, Tracing(cfg.tracing()...))
	}
	if !cfg.DisableMetrics {
		mws = append(mws, Metrics(cfg.metrics()...))
	}
	return append(mws, inner...), nil
}

// RecommendedPublish returns the publish middleware Herald recommends,
// with telemetry, in this order: PublishTracing (producer span, trace
// context injected into the metadata), PublishMetrics, then
// middleware.RecommendedPublish(cfg.Config) (PublishCorrelationID,
// PublishLogging with cfg.Logger). Pass the result to
// publisher.WithMiddleware.
func RecommendedPublish(cfg Config) []herald.PublishMiddleware {
	var mws []herald.PublishMiddleware
	if !cfg.DisableTracing {
		mws = append(mws, PublishTracing(cfg.tracing()...))
	}
	if !cfg.DisableMetrics {
		mws = append(mws, PublishMetrics(cfg.metrics()...))
	}
	return append(mws, middleware.RecommendedPublish(cfg.Config)...)
}
