package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/heraldkit/herald/middleware"
)

// Where spans go: the values of -traces.
//
// To send them to Jaeger, Tempo or a Collector instead, use the OTLP
// exporter (go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp):
// otlptracehttp.New(ctx) reads the standard OTEL_EXPORTER_OTLP_* variables.
// It is left out here because it brings gRPC and protobuf modules into
// Herald's go.mod for every user of the library.
const (
	tracesStdout = "stdout" // JSON on stdout
	tracesNone   = "none"
)

// newTracerProvider returns the SDK tracer provider exporting as mode
// says, or to exp when it is not nil (the tests' in-memory exporter).
// extra is added to the provider's span processors.
func newTracerProvider(ctx context.Context, mode string, exp sdktrace.SpanExporter, stdout io.Writer, extra sdktrace.SpanProcessor) (*sdktrace.TracerProvider, string, error) {
	res := resource.NewSchemaless(semconv.ServiceName("herald-observability-example"))
	base := []sdktrace.TracerProviderOption{sdktrace.WithResource(res), sdktrace.WithSpanProcessor(extra)}
	if exp != nil {
		return sdktrace.NewTracerProvider(append(base, sdktrace.WithSyncer(exp))...), "given exporter", nil
	}
	var err error
	switch mode {
	case tracesStdout:
		exp, err = stdouttrace.New(stdouttrace.WithWriter(stdout))
	case tracesNone:
		return sdktrace.NewTracerProvider(base...), mode, nil
	default:
		return nil, "", fmt.Errorf("-traces %q: unknown; allowed: %s, %s", mode, tracesStdout, tracesNone)
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
