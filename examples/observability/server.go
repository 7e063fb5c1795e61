package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/middleware"
)

// CorrelationHeader is the HTTP header carrying the correlation ID in
// both directions: a client may send one, the response always has it.
const CorrelationHeader = "X-Correlation-ID"

// validCorrelation is what a client-given correlation ID may look like;
// anything else is replaced, so that no client writes into the logs.
var validCorrelation = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// Order is the body of POST /orders and the payload of orders.placed.
type Order struct {
	ID     string  `json:"id"`
	Amount float64 `json:"amount"`
}

// accepted is the body of a 202 answer.
type accepted struct {
	OrderID       string `json:"order_id"`
	MessageID     string `json:"message_id"`
	TraceID       string `json:"trace_id"`
	CorrelationID string `json:"correlation_id"`
}

// httpMetrics are the server's Prometheus metrics.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_server_requests_total", Help: "HTTP requests by method, route and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "http_server_request_duration_seconds", Help: "HTTP request duration by method and route.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// handler returns the HTTP API: POST /orders, /metrics and /healthz.
func (a *app) handler(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /orders", a.traced("/orders", a.postOrder))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if err := a.health(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}

// traced is a small hand-written OpenTelemetry HTTP server instrumentation
// (what otelhttp.NewHandler does, reduced to what this example needs): it
// continues the caller's trace from the traceparent header or starts one,
// opens a SERVER span "<method> <route>" with the HTTP semantic
// convention attributes, puts the correlation ID (from the
// X-Correlation-ID header, else new) into ctx and the response, and
// counts and times the request.
func (a *app) traced(route string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx := a.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		host, _, _ := net.SplitHostPort(r.Host)
		ctx, span := a.tracer.Start(ctx, r.Method+" "+route,
			trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(
				semconv.HTTPRequestMethodKey.String(r.Method),
				semconv.HTTPRoute(route),
				semconv.URLPath(r.URL.Path),
				semconv.URLScheme("http"),
				semconv.ServerAddress(host),
				semconv.UserAgentOriginal(r.UserAgent()),
			))
		defer span.End()

		corr := r.Header.Get(CorrelationHeader)
		if !validCorrelation.MatchString(corr) {
			corr = herald.NewID()
		}
		ctx = middleware.ContextWithCorrelationID(ctx, corr)
		w.Header().Set(CorrelationHeader, corr)

		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		h(rec, r.WithContext(ctx))

		span.SetAttributes(semconv.HTTPResponseStatusCode(rec.code))
		if rec.code >= 500 {
			span.SetStatus(codes.Error, http.StatusText(rec.code))
		}
		a.http.requests.WithLabelValues(r.Method, route, strconv.Itoa(rec.code)).Inc()
		a.http.duration.WithLabelValues(r.Method, route).Observe(time.Since(start).Seconds())
	})
}

// statusRecorder remembers the status code written.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// postOrder validates the order, publishes it to orders.placed (the
// publisher's PublishTracing opens the PRODUCER span, a child of the
// server span, and injects it into the message) and answers 202 once the
// broker has it.
func (a *app) postOrder(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var o Order
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		a.logger.WarnContext(ctx, "order rejected", "error", err.Error())
		http.Error(w, "body: want {\"id\": string, \"amount\": number}: "+err.Error(), http.StatusBadRequest)
		return
	}
	if o.ID == "" || o.Amount <= 0 {
		a.logger.WarnContext(ctx, "order rejected", "order_id", o.ID, "error", "id empty or amount not positive")
		http.Error(w, "order: id must not be empty and amount must be positive", http.StatusBadRequest)
		return
	}
	m, err := herald.NewJSONMessage(o)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	herald.SetKey(m, o.ID)
	if err := a.pub.Publish(ctx, a.topics.placed, m); err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, herald.ErrUnreachable) || errors.Is(err, herald.ErrClosed) {
			code = http.StatusServiceUnavailable
		}
		a.logger.ErrorContext(ctx, "publish failed", "order_id", o.ID, "error", err.Error())
		http.Error(w, "the order could not be queued; try again", code)
		return
	}
	a.logger.InfoContext(ctx, "order accepted", "order_id", o.ID, "message_id", m.UUID)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(accepted{
		OrderID:       o.ID,
		MessageID:     m.UUID,
		TraceID:       trace.SpanContextFromContext(ctx).TraceID().String(),
		CorrelationID: middleware.CorrelationIDFromContext(ctx),
	})
}

// logAttrs is the slog attributes of an order.
func logAttrs(o Order) []any {
	return []any{slog.String("order_id", o.ID), slog.Float64("amount", o.Amount)}
}
