package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/heraldkit/herald/middleware"
)

// Where spans go: the values of -traces.
const (
	tracesAuto   = "auto"   // OTLP when an OTLP endpoint is set in the environment, else stdout
	tracesStdout = "stdout" // JSON on stdout
	tracesOTLP   = "otlp"   // OTLP over HTTP, configured by the OTEL_EXPORTER_OTLP_* variables
	tracesNone   = "none"
)

// otlpConfigured reports whether the standard OTLP endpoint variables are set.
func otlpConfigured() bool {
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// newTracerProvider returns the SDK tracer provider exporting as mode
// says, or to exp when it is not nil (the tests' in-memory exporter).
// extra is added to the provider's span processors.
func newTracerProvider(ctx context.Context, mode string, exp sdktrace.SpanExporter, stdout io.Writer, extra sdktrace.SpanProcessor) (*sdktrace.TracerProvider, string, error) {
	res := resource.NewSchemaless(semconv.ServiceName("herald-observability-example"))
	base := []sdktrace.TracerProviderOption{sdktrace.WithResource(res), sdktrace.WithSpanProcessor(extra)}
	if exp != nil {
		return sdktrace.NewTracerProvider(append(base, sdktrace.WithSyncer(exp))...), "given exporter", nil
	}
	if mode == tracesAuto {
		mode = tracesStdout
		if otlpConfigured() {
			mode = tracesOTLP
		}
	}
	var err error
	switch mode {
	case tracesStdout:
		exp, err = stdouttrace.New(stdouttrace.WithWriter(stdout))
	case tracesOTLP:
		// Endpoint, headers, TLS and timeout come from the standard
		// OTEL_EXPORTER_OTLP_* variables (default http://localhost:4318).
		exp, err = otlptracehttp.New(ctx)
	case tracesNone:
		return sdktrace.NewTracerProvider(base...), mode, nil
	default:
		return nil, "", fmt.Errorf("-traces %q: unknown; allowed: %s, %s, %s, %s", mode, tracesAuto, tracesStdout, tracesOTLP, tracesNone)
	}
	if err != nil {
		return nil, "", fmt.Errorf("-traces %s: %w", mode, err)
	}
	return sdktrace.NewTracerProvider(append(base, sdktrace.WithBatcher(exp))...), mode, nil
}

// traceHandler is a slog.Handler that adds to each record the trace_id
// and span_id of the span in its ctx and the correlation ID carried by
// ctx (unless the record has one already: Herald's Logging middleware adds
// it itself). Log through the ...Context methods (logger.InfoContext(ctx,
// ...)) so that the handler sees ctx.
type traceHandler struct{ slog.Handler }

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	if id := middleware.CorrelationIDFromContext(ctx); id != "" && !hasAttr(r, "correlation_id") {
		r.AddAttrs(slog.String("correlation_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(as)}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name)}
}

func hasAttr(r slog.Record, key string) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Key == key
		return !found
	})
	return found
}
