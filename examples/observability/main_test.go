package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters/adaptertest"
)

func TestTraceEmbedded(t *testing.T) { testTrace(t, "embedded://"+t.TempDir()) }

func TestTraceRabbitMQ(t *testing.T) { testTrace(t, adaptertest.BrokerURL(t, "HERALD_TEST_AMQP")) }

// testTrace posts two orders through the running example and checks that
// each is one trace from the HTTP server span through both broker hops,
// that the logs carry its trace, span and correlation IDs, and that
// /metrics has the HTTP and Herald series.
func testTrace(t *testing.T, target string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	exp := tracetest.NewInMemoryExporter()
	prefix := "obs-" + herald.NewID()
	var out, logs bytes.Buffer
	args := []string{"-target", target, "-prefix", prefix, "-addr", "127.0.0.1:0", "-demo", "2", "-scrape"}
	if err := run(ctx, args, &out, &logs, keepSpans{exp}); err != nil {
		t.Fatalf("run: %v\nstdout:\n%s\nlogs:\n%s", err, out.String(), logs.String())
	}
	defer func() {
		if t.Failed() {
			t.Logf("stdout:\n%s\nlogs:\n%s", out.String(), logs.String())
		}
	}()
	spans := exp.GetSpans()
	byID := map[trace.SpanID]tracetest.SpanStub{}
	for _, s := range spans {
		byID[s.SpanContext.SpanID()] = s
	}
	// The trace IDs the server answered with, by correlation ID.
	answered := regexp.MustCompile(`POST /orders order-\d: 202, message \S+, trace ([0-9a-f]{32}), correlation (demo-\d)`).FindAllStringSubmatch(out.String(), -1)
	if len(answered) != 2 {
		t.Fatalf("%d 202 answers, want 2", len(answered))
	}
	logLines := jsonLines(t, &logs)
	for _, a := range answered {
		traceID, corr := a[1], a[2]
		// The last consumer span of this trace, and its parent chain.
		var last *tracetest.SpanStub
		for i, s := range spans {
			if s.SpanContext.TraceID().String() == traceID && s.Name == "process "+prefix+".payments.completed" {
				last = &spans[i]
			}
		}
		if last == nil {
			t.Errorf("trace %s: no span process %s.payments.completed in it", traceID, prefix)
			continue
		}
		var chain []string
		for s, ok := *last, true; ok; s, ok = byID[s.Parent.SpanID()] {
			chain = append(chain, s.Name+" ("+s.SpanKind.String()+")")
			if !s.Parent.IsValid() {
				break
			}
			if s.SpanContext.TraceID().String() != traceID {
				t.Errorf("span %s has trace %s, want %s", s.Name, s.SpanContext.TraceID(), traceID)
			}
		}
		want := []string{
			"process " + prefix + ".payments.completed (consumer)",
			"send " + prefix + ".payments.completed (producer)",
			"process " + prefix + ".orders.placed (consumer)",
			"send " + prefix + ".orders.placed (producer)",
			"POST /orders (server)",
		}
		if strings.Join(chain, " <- ") != strings.Join(want, " <- ") {
			t.Errorf("trace %s: parent chain\n  %s\nwant\n  %s", traceID, strings.Join(chain, " <- "), strings.Join(want, " <- "))
		}
		// The log lines of the consumers carry this trace, the span they
		// ran in, and the client's correlation ID.
		found := 0
		for _, l := range logLines {
			if l["msg"] != "customer notified" && l["msg"] != "charging order" || l["trace_id"] != traceID {
				continue
			}
			found++
			if l["correlation_id"] != corr {
				t.Errorf("log %q of trace %s: correlation_id %v, want %s", l["msg"], traceID, l["correlation_id"], corr)
			}
			if s, ok := byID[spanID(t, l["span_id"])]; !ok || s.SpanKind != trace.SpanKindConsumer {
				t.Errorf("log %q: span_id %v is not a consumer span of the trace", l["msg"], l["span_id"])
			}
		}
		if found != 2 {
			t.Errorf("trace %s: %d consumer log lines carry it, want 2", traceID, found)
		}
	}
	for _, want := range []string{
		`http_server_requests_total{code="202",method="POST",route="/orders"} 2`,
		`http_server_request_duration_seconds_count{method="POST",route="/orders"} 2`,
		`herald_messages_published_total{`,
		`herald_messages_consumed_total{`,
		`messaging_consumer_group_name="payments",messaging_destination_name="` + prefix + `.orders.placed"`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// keepSpans keeps the spans past the provider's shutdown (which would
// reset the in-memory exporter).
type keepSpans struct{ *tracetest.InMemoryExporter }

func (keepSpans) Shutdown(context.Context) error { return nil }

func jsonLines(t *testing.T, r io.Reader) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Errorf("log line is not JSON: %s", sc.Text())
			continue
		}
		lines = append(lines, m)
	}
	return lines
}

func spanID(t *testing.T, v any) trace.SpanID {
	s, _ := v.(string)
	id, err := trace.SpanIDFromHex(s)
	if err != nil {
		t.Errorf("span_id %v: %v", v, err)
	}
	return id
}

// TestRejectedOrder checks a bad request without a broker: 400, counted,
// traced as a server span continuing the caller's trace, and a correlation
// ID that could forge log lines replaced by a fresh one.
func TestRejectedOrder(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	reg := prometheus.NewRegistry()
	var logs bytes.Buffer
	a := &app{
		tracer: tp.Tracer("test"),
		prop:   propagation.TraceContext{},
		logger: slog.New(traceHandler{slog.NewJSONHandler(&logs, nil)}),
		http:   newHTTPMetrics(reg),
		health: func() error { return nil },
	}
	srv := httptest.NewServer(a.handler(reg))
	defer srv.Close()
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/orders", strings.NewReader(`{"id":"o-1","amount":-3}`))
	req.Header.Set("traceparent", parent)
	req.Header.Set(CorrelationHeader, `x" msg="forged`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("status %s, want 400", resp.Status)
	}
	corr := resp.Header.Get(CorrelationHeader)
	if !validCorrelation.MatchString(corr) || strings.Contains(corr, "forged") {
		t.Errorf("correlation ID %q: want a fresh one", corr)
	}
	spans := exp.GetSpans()
	if len(spans) != 1 || spans[0].Name != "POST /orders" || spans[0].SpanContext.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("spans %v: want one POST /orders in the caller's trace", spans)
	}
	if !strings.Contains(logs.String(), `"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"`) || !strings.Contains(logs.String(), fmt.Sprintf(`"correlation_id":%q`, corr)) {
		t.Errorf("the rejection log lacks the trace or correlation ID:\n%s", logs.String())
	}
	rec := httptest.NewRecorder()
	a.handler(reg).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if !strings.Contains(rec.Body.String(), `http_server_requests_total{code="400",method="POST",route="/orders"} 1`) {
		t.Errorf("/metrics lacks the 400:\n%s", rec.Body.String())
	}
}
