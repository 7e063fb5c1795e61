package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// Step results, the values of the result label of saga_steps_total.
const (
	resultApplied   = "applied"   // the step's effect ran
	resultDuplicate = "duplicate" // a redelivery the inbox skipped, or a second message of a step the ledger has
	resultFailed    = "failed"    // the handler failed (it is retried)
)

// metrics are the saga's Prometheus metrics, with Herald's own metrics
// (through the OpenTelemetry Prometheus exporter) in the same registry.
type metrics struct {
	reg      *prometheus.Registry
	steps    *prometheus.CounterVec
	outcomes *prometheus.CounterVec
	meters   *sdkmetric.MeterProvider
}

func newMetrics() (*metrics, error) {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		steps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "saga_steps_total",
			Help: "Saga step deliveries by step (reserve, charge, confirm, release, cancel, timeout) and result (applied, duplicate, failed).",
		}, []string{"step", "result"}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "saga_orders_total",
			Help: "Orders that reached a final state (confirmed or cancelled).",
		}, []string{"state"}),
	}
	m.reg.MustRegister(m.steps, m.outcomes)
	exporter, err := otelprom.New(otelprom.WithRegisterer(m.reg))
	if err != nil {
		return nil, err
	}
	m.meters = sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	return m, nil
}

func (m *metrics) step(step, result string) { m.steps.WithLabelValues(step, result).Inc() }

// serve serves /metrics on addr (loopback only) until ctx is done and
// returns the URL.
func (m *metrics) serve(ctx context.Context, addr string) (string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("-metrics %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", fmt.Errorf("-metrics %q: this example listens on the loopback interface only (e.g. 127.0.0.1:9466)", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("-metrics %q: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	return "http://" + ln.Addr().String() + "/metrics", nil
}

// scrape fetches url and writes the lines of the saga_ series.
func scrape(ctx context.Context, url string, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	found := false
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "saga_") || strings.HasPrefix(line, "herald_messages_consumed_total") {
			fmt.Fprintln(w, line)
			found = true
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if !found {
		return errors.New("no saga metrics on " + url)
	}
	return nil
}
