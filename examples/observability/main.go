// Command observability shows one order followed end to end: an HTTP
// request, the message it publishes, the payments consumer that charges it
// and publishes again, and the notifications consumer at the end, all in
// ONE OpenTelemetry trace (W3C trace context carried in the message
// metadata by otelmw.PublishTracing and picked up by
// otelmw.Tracing); Prometheus metrics on /metrics (HTTP, Herald's
// own); JSON logs (slog) whose lines carry trace_id, span_id and
// correlation_id.
//
//	go run ./examples/observability -demo 2      # two orders, spans on stdout, logs on stderr, then exit
//	go run ./examples/observability              # serve on 127.0.0.1:8080 until Ctrl-C
//	curl -si -X POST -H 'X-Correlation-ID: my-1' -d '{"id":"o-1","amount":12.5}' 127.0.0.1:8080/orders
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/heraldkit/herald"
	_ "github.com/heraldkit/herald/adapters/all"
	"github.com/heraldkit/herald/middleware"
	"github.com/heraldkit/herald/middleware/otelmw"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "observability:", err)
		stop()
		os.Exit(1)
	}
}

// app is what the HTTP server and the consumers share.
type app struct {
	tracer   trace.Tracer
	prop     propagation.TextMapPropagator
	logger   *slog.Logger
	pub      herald.Publisher
	topics   topics
	http     *httpMetrics
	notified chan string
	health   func() error
}

type topics struct{ placed, paid string }

type options struct {
	target, addr, prefix, traces string
	demo                         int
	scrape                       bool
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("observability", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.target, "target", "", "Herald target URL (empty: HERALD_URL, else the embedded broker)")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "loopback address of the HTTP API (POST /orders, /metrics, /healthz)")
	fs.StringVar(&o.prefix, "prefix", "shop", "topic prefix: <prefix>.orders.placed and <prefix>.payments.completed")
	fs.StringVar(&o.traces, "traces", tracesStdout, "where spans go: stdout (JSON) or none")
	fs.IntVar(&o.demo, "demo", 0, "post this many orders to the server, wait until each is handled end to end, then exit (0: serve until interrupted)")
	fs.BoolVar(&o.scrape, "scrape", false, "with -demo: print the http_server_ and herald_ series of /metrics before exiting")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected argument %q: this command takes flags only", fs.Arg(0))
	case o.demo < 0:
		return o, errors.New("-demo: must not be negative")
	case o.prefix == "":
		return o, errors.New("-prefix: must not be empty")
	}
	host, _, err := net.SplitHostPort(o.addr)
	if err != nil {
		return o, fmt.Errorf("-addr %q: %w", o.addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return o, fmt.Errorf("-addr %q: this example listens on the loopback interface only (e.g. 127.0.0.1:8080)", o.addr)
	}
	return o, nil
}

// run runs the example; exp, when not nil, receives the spans instead of
// the exporter -traces chooses.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, exp sdktrace.SpanExporter) (err error) {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	logger := slog.New(traceHandler{slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo})})

	// Traces: an SDK tracer provider; W3C trace context in HTTP headers
	// and in message metadata.
	tree := &treeRecorder{}
	tp, mode, err := newTracerProvider(ctx, o.traces, exp, stdout, tree)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = errors.Join(err, tp.Shutdown(sctx)) // flushes the last spans
	}()
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

	// Metrics: one Prometheus registry with the HTTP metrics and Herald's
	// (through the OpenTelemetry SDK and its Prometheus exporter).
	reg := prometheus.NewRegistry()
	promExp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(promExp))
	defer mp.Shutdown(context.Background())

	cfg := otelmw.Config{
		Config: middleware.Config{
			Logger:          logger,
			DeadLetterTopic: "{topic}.dlq",
			Retry:           []middleware.RetryOption{middleware.MaxAttempts(3), middleware.InitialDelay(50 * time.Millisecond)},
		},
		TracerProvider: tp,
		Propagator:     prop,
		MeterProvider:  mp,
	}
	pub, err := publisher.Open(ctx, o.target, publisher.WithLogger(logger), publisher.WithMiddleware(otelmw.RecommendedPublish(cfg)...))
	if err != nil {
		return err
	}
	defer pub.Close()
	a := &app{
		tracer:   tp.Tracer("github.com/heraldkit/herald/examples/observability"),
		prop:     prop,
		logger:   logger,
		pub:      pub,
		topics:   topics{placed: o.prefix + ".orders.placed", paid: o.prefix + ".payments.completed"},
		http:     newHTTPMetrics(reg),
		notified: make(chan string, 2*o.demo+8), // room for redeliveries: notify never blocks
	}

	// The consumers: payments and notifications, each its own group.
	mws, err := otelmw.Recommended(pub, cfg)
	if err != nil {
		return err
	}
	subCtx, stopSubs := context.WithCancel(ctx)
	defer stopSubs()
	subs := []struct {
		group, topic string
		h            herald.Handler
	}{
		{"payments", a.topics.placed, herald.JSON(a.charge)},
		{"notifications", a.topics.paid, herald.JSON(a.notify)},
	}
	var healths []func() error
	var opened []*subscriber.Subscriber
	errs := make(chan error, len(subs))
	ready := make(chan string, len(subs))
	for _, s := range subs {
		sub, err := subscriber.Open(ctx, o.target, subscriber.WithGroup(s.group), subscriber.WithLogger(logger),
			subscriber.WithMiddleware(mws...), subscriber.WithReady(func(t string) { ready <- t }))
		if err != nil {
			return err
		}
		defer sub.Close()
		healths = append(healths, sub.Health)
		opened = append(opened, sub)
		go func() { errs <- sub.Subscribe(subCtx, s.topic, s.h) }()
	}
	for range subs {
		select {
		case <-ready:
		case err := <-errs:
			return fmt.Errorf("subscribe: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	a.health = func() error {
		var all error
		for _, h := range healths {
			all = errors.Join(all, h())
		}
		return all
	}

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %w", o.addr, err)
	}
	srv := &http.Server{Handler: a.handler(reg), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	base := "http://" + ln.Addr().String()
	logger.InfoContext(ctx, "serving", "url", base, "traces", mode, "target", pub.Config()) // a Config logs with its secrets redacted

	if o.demo == 0 {
		<-ctx.Done()
		logger.Info("stopping: no new requests; the consumers finish the messages they hold")
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return srv.Shutdown(sctx) // then the subscribers drain (deferred)
	}
	if err := demo(ctx, a, base, o.demo, stdout); err != nil {
		return err
	}
	if o.scrape {
		if err := scrape(ctx, base+"/metrics", stdout); err != nil {
			return err
		}
	}
	// Stop the consumers (they finish what they hold, so every span has
	// ended), then show the traces.
	stopSubs()
	for _, s := range opened {
		if err := s.Close(); err != nil {
			return err
		}
	}
	tree.print(stdout)
	return nil
}

// demo posts n orders to base/orders and waits until the notifications
// consumer has handled each.
func demo(ctx context.Context, a *app, base string, n int, stdout io.Writer) error {
	for i := 1; i <= n; i++ {
		body := fmt.Sprintf(`{"id":"order-%d","amount":%d.5}`, i, 10*i)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/orders", strings.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set(CorrelationHeader, fmt.Sprintf("demo-%d", i))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		var acc accepted
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted || json.Unmarshal(b, &acc) != nil {
			return fmt.Errorf("POST /orders: %s: %s", resp.Status, bytes.TrimSpace(b))
		}
		fmt.Fprintf(stdout, "POST /orders %s: 202, message %s, trace %s, correlation %s\n", acc.OrderID, acc.MessageID, acc.TraceID, acc.CorrelationID)
	}
	seen := map[string]bool{}
	timeout := time.After(time.Minute)
	for len(seen) < n {
		select {
		case id := <-a.notified:
			seen[id] = true
		case <-timeout:
			return fmt.Errorf("only %d of %d orders were handled end to end within a minute", len(seen), n)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	fmt.Fprintf(stdout, "%d order(s) handled end to end\n", n)
	return nil
}

// scrape fetches url and prints the http_server_ and herald_ series
// (histograms by their _count and _sum only).
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
	for sc.Scan() {
		l := sc.Text()
		if (strings.HasPrefix(l, "http_server_") || strings.HasPrefix(l, "herald_")) && !strings.Contains(l, "_bucket{") {
			fmt.Fprintln(w, l)
		}
	}
	return sc.Err()
}
