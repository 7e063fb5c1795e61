package main

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/heraldkit/herald"
)

// metrics are the service's Prometheus metrics, on their own registry.
type metrics struct {
	reg             *prometheus.Registry
	requests        *prometheus.CounterVec   // handler, code
	requestDuration *prometheus.HistogramVec // handler
	published       prometheus.Counter       // orders the broker acknowledged
	failures        *prometheus.CounterVec   // reason: one per failed try
	publishDuration prometheus.Histogram     // one per try
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "httpproducer_http_requests_total", Help: "HTTP requests by handler and status code.",
		}, []string{"handler", "code"}),
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "httpproducer_http_request_duration_seconds", Help: "HTTP request latency by handler.",
			Buckets: prometheus.DefBuckets,
		}, []string{"handler"}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "httpproducer_orders_published_total", Help: "Orders the broker acknowledged.",
		}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "httpproducer_publish_failures_total", Help: "Failed publish tries by reason (unreachable, timeout, closed, other); a retried order counts once per try.",
		}, []string{"reason"}),
		publishDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "httpproducer_publish_duration_seconds", Help: "Latency of one publish try until the broker answered (a batch counts once per order).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
	}
	m.reg.MustRegister(m.requests, m.requestDuration, m.published, m.failures, m.publishDuration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// attempt records one publish try of one order.
func (m *metrics) attempt(d time.Duration, err error) {
	m.publishDuration.Observe(d.Seconds())
	if err == nil {
		m.published.Inc()
		return
	}
	m.failures.WithLabelValues(failureReason(err)).Inc()
}

// failureReason is a low-cardinality label for a publish error.
func failureReason(err error) string {
	switch {
	case errors.Is(err, herald.ErrUnreachable):
		return "unreachable"
	case errors.Is(err, herald.ErrClosed):
		return "closed"
	case transient(err):
		return "timeout"
	}
	return "other"
}

// handler serves /metrics.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// instrument counts and times the requests of h under name.
func (m *metrics) instrument(name string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		start := time.Now()
		h(rec, r)
		m.requests.WithLabelValues(name, strconv.Itoa(rec.code)).Inc()
		m.requestDuration.WithLabelValues(name).Observe(time.Since(start).Seconds())
	}
}

// statusRecorder remembers the status code written.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}
