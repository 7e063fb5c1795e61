// Command metrics shows Herald's metrics on a Prometheus /metrics endpoint:
// it publishes and consumes a few messages through the recommended
// middleware stack, with an OpenTelemetry SDK MeterProvider whose reader is
// the Prometheus exporter.
//
//	go run ./examples/metrics                 # serve on 127.0.0.1:9464 until Ctrl-C
//	go run ./examples/metrics -once           # print the herald metrics and exit
//	go run ./examples/metrics -target embedded:///tmp/herald-demo
//
// The target defaults to mem://metrics-example; an empty -target uses
// HERALD_URL, else the embedded broker. The endpoint listens on the
// loopback interface only.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/heraldkit/herald"
	_ "github.com/heraldkit/herald/adapters/all"
	"github.com/heraldkit/herald/middleware"
	"github.com/heraldkit/herald/middleware/otelmw"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "metrics:", err)
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("metrics", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("target", "mem://metrics-example", "Herald target URL (empty: HERALD_URL, else the embedded broker)")
	addr := fs.String("addr", "127.0.0.1:9464", "loopback address for the /metrics endpoint")
	once := fs.Bool("once", false, "print the herald metrics from /metrics once and exit")
	n := fs.Int("n", 10, "messages to publish (every 3rd fails once and is retried, every 5th cannot be processed and is dead-lettered)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 {
		return fmt.Errorf("-n %d: must be at least 1", *n)
	}
	addrSet := false
	fs.Visit(func(f *flag.Flag) { addrSet = addrSet || f.Name == "addr" })
	if *once && !addrSet {
		*addr = "127.0.0.1:0" // any free port
	}
	if err := loopbackOnly(*addr); err != nil {
		return err
	}

	// The OpenTelemetry SDK, exporting to a Prometheus registry of our own.
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	defer mp.Shutdown(context.Background())

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/metrics"

	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := traffic(ctx, *target, *n, mp, logger); err != nil {
		return err
	}

	if *once {
		return printHerald(ctx, url, stdout)
	}
	fmt.Fprintf(stderr, "serving metrics on %s (Ctrl-C to stop)\n", url)
	<-ctx.Done()
	return nil
}

// traffic publishes n messages to "orders" and waits until the subscriber
// has finished with all of them.
func traffic(ctx context.Context, target string, n int, mp *sdkmetric.MeterProvider, logger *slog.Logger) error {
	cfg := otelmw.Config{
		Config: middleware.Config{
			Logger:          logger,
			DeadLetterTopic: "{topic}.dlq",
			Retry:           []middleware.RetryOption{middleware.MaxAttempts(3), middleware.InitialDelay(10 * time.Millisecond)},
		},
		MeterProvider: mp,
	}
	pub, err := publisher.Open(ctx, target, publisher.WithMiddleware(otelmw.RecommendedPublish(cfg)...))
	if err != nil {
		return err
	}
	defer pub.Close()
	mws, err := otelmw.Recommended(pub, cfg)
	if err != nil {
		return err
	}
	// Our own outermost middleware tells us when a delivery is finished.
	finished := make(chan struct{}, n)
	done := func(next herald.Handler) herald.Handler {
		return herald.Handler(func(ctx context.Context, m *herald.Message) error {
			err := next.Handle(ctx, m)
			if err == nil {
				finished <- struct{}{}
			}
			return err
		})
	}
	ready := make(chan string, 1)
	sub, err := subscriber.Open(ctx, target,
		subscriber.WithGroup("metrics-example"),
		subscriber.WithMiddleware(append([]herald.Middleware{done}, mws...)...),
		subscriber.WithReady(func(topic string) { ready <- topic }))
	if err != nil {
		return err
	}
	defer sub.Close()
	subErr := make(chan error, 1)
	go func() {
		subErr <- sub.Subscribe(ctx, "orders", func(ctx context.Context, m *herald.Message) error {
			switch {
			case strings.HasPrefix(string(m.Payload), "poison"):
				return herald.Permanent(errors.New("cannot decode order"))
			case strings.HasPrefix(string(m.Payload), "flaky") && middleware.Attempt(ctx) == 1:
				return errors.New("payment service busy")
			}
			return nil
		})
	}()
	select {
	case <-ready:
	case err := <-subErr:
		return fmt.Errorf("subscribe: %w", err)
	case <-ctx.Done():
		return ctx.Err()
	}

	for i := 1; i <= n; i++ {
		payload := "order " + strconv.Itoa(i)
		switch {
		case i%5 == 0:
			payload = "poison " + strconv.Itoa(i)
		case i%3 == 0:
			payload = "flaky " + strconv.Itoa(i)
		}
		if err := pub.Publish(ctx, "orders", herald.NewMessage([]byte(payload))); err != nil {
			return err
		}
	}
	timeout := time.After(time.Minute)
	for i := 0; i < n; i++ {
		select {
		case <-finished:
		case <-timeout:
			return fmt.Errorf("only %d of %d messages were handled within a minute", i, n)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// printHerald scrapes url and prints the lines about herald metrics.
func printHerald(ctx context.Context, url string, w io.Writer) error {
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
		line := sc.Text()
		if strings.HasPrefix(line, "herald_") || strings.HasPrefix(line, "# HELP herald_") || strings.HasPrefix(line, "# TYPE herald_") {
			fmt.Fprintln(w, line)
			found = true
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if !found {
		return errors.New("no herald metrics on " + url)
	}
	return nil
}

// loopbackOnly refuses addresses that are not on the loopback interface.
func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("-addr %q: this example listens on the loopback interface only (e.g. 127.0.0.1:9464)", addr)
	}
	return nil
}
