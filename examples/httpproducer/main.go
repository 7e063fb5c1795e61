// Command httpproducer is an HTTP service that publishes orders: the
// Kafka-producer-inside-a-microservice pattern, on any Herald backend.
//
//	POST /orders       one JSON order -> 202 {"id", "message_id"} once the broker acknowledged it
//	POST /orders/bulk  a JSON array of orders, published as one batch -> a result per order
//	GET  /healthz      200 when the broker acknowledges a probe within -health-timeout, else 503
//	GET  /metrics      Prometheus metrics
//
// Orders go to the topic orders.created keyed by order ID. A publish that
// fails transiently (broker unreachable, no answer in time) is tried again
// with backoff, then answered 503 with Retry-After. SIGTERM or SIGINT stops
// accepting connections, lets the requests in flight finish (their
// publishes included), closes the publisher and exits 0.
//
// The broker is chosen by HERALD_URL (or -target), credentials and TLS
// included; without one it is the embedded broker in the working
// directory. See README.md.
package main

import (
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
	"syscall"
	"time"

	_ "github.com/heraldkit/herald/adapters/all"
	"github.com/heraldkit/herald/publisher"
)

// config is the service's configuration (flags).
type config struct {
	Listen          string        // HTTP address
	Target          string        // Herald target; "" = HERALD_URL / HERALD_CONFIG, else embedded
	Topic           string        // where orders go
	HealthTopic     string        // where health probes go
	Retry           retryPolicy   // publish retries
	RetryAfter      time.Duration // Retry-After of a 503
	HealthTimeout   time.Duration // bound on a health probe
	ShutdownTimeout time.Duration // bound on the graceful stop
	MaxBulk         int           // orders per bulk request
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		os.Exit(2)
	}
	if err := run(ctx, cfg, nil, logger); err != nil {
		logger.Error("httpproducer stopped", "error", err)
		stop()
		os.Exit(1)
	}
}

// parseFlags reads the configuration from the command line.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("httpproducer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:8080", "HTTP listen address (\":8080\" for every interface)")
	fs.StringVar(&c.Target, "target", "", "Herald target URL (empty: HERALD_URL or HERALD_CONFIG, else the embedded broker)")
	fs.StringVar(&c.Topic, "topic", "orders.created", "topic the orders are published to")
	fs.StringVar(&c.HealthTopic, "health-topic", "httpproducer.healthz", "topic of the /healthz probe messages")
	fs.IntVar(&c.Retry.Attempts, "attempts", 3, "publish tries per order before answering 503")
	fs.DurationVar(&c.Retry.AttemptTimeout, "attempt-timeout", 5*time.Second, "bound on one publish try")
	fs.DurationVar(&c.Retry.Backoff, "backoff", 200*time.Millisecond, "wait before the second try, doubling after each")
	fs.DurationVar(&c.Retry.MaxBackoff, "max-backoff", 2*time.Second, "longest wait between tries")
	fs.DurationVar(&c.RetryAfter, "retry-after", 5*time.Second, "Retry-After of a 503 answer")
	fs.DurationVar(&c.HealthTimeout, "health-timeout", 2*time.Second, "bound on the /healthz broker probe")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 25*time.Second, "bound on the graceful stop after SIGTERM")
	fs.IntVar(&c.MaxBulk, "max-bulk", 1000, "most orders in one POST /orders/bulk")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected argument %q (configuration is by flags and HERALD_URL)", fs.Arg(0))
		fmt.Fprintln(stderr, "httpproducer:", err)
		return c, err
	}
	if err := c.validate(); err != nil {
		fmt.Fprintln(stderr, "httpproducer:", err)
		return c, err
	}
	return c, nil
}

// validate names the first flag with an unusable value.
func (c config) validate() error {
	switch {
	case c.Retry.Attempts < 1:
		return fmt.Errorf("-attempts %d: must be at least 1", c.Retry.Attempts)
	case c.Retry.AttemptTimeout <= 0:
		return fmt.Errorf("-attempt-timeout %v: must be positive", c.Retry.AttemptTimeout)
	case c.Retry.Backoff < 0 || c.Retry.MaxBackoff < c.Retry.Backoff:
		return fmt.Errorf("-backoff %v, -max-backoff %v: need 0 <= backoff <= max-backoff", c.Retry.Backoff, c.Retry.MaxBackoff)
	case c.HealthTimeout <= 0 || c.ShutdownTimeout <= 0:
		return fmt.Errorf("-health-timeout %v, -shutdown-timeout %v: must be positive", c.HealthTimeout, c.ShutdownTimeout)
	case c.MaxBulk < 1:
		return fmt.Errorf("-max-bulk %d: must be at least 1", c.MaxBulk)
	case c.Topic == "" || c.HealthTopic == "":
		return errors.New("-topic and -health-topic must not be empty")
	}
	return nil
}

// run serves until ctx ends (SIGTERM), then stops gracefully: the listener
// closes at once, requests in flight finish within cfg.ShutdownTimeout
// (each waits for its broker acknowledgement), and the publisher is shut
// down, so nothing accepted is lost. ln, when not nil, is used instead of
// listening on cfg.Listen. It returns nil after a clean stop.
func run(ctx context.Context, cfg config, ln net.Listener, logger *slog.Logger, opts ...publisher.Option) error {
	pub, err := publisher.Open(ctx, cfg.Target, append([]publisher.Option{publisher.WithLogger(logger)}, opts...)...)
	if err != nil {
		return err
	}
	defer pub.Close()
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return err
		}
	}
	s := &server{cfg: cfg, pub: pub, log: logger, metrics: newMetrics(),
		health: &healthCheck{pub: pub, topic: cfg.HealthTopic, timeout: cfg.HealthTimeout, cacheFor: time.Second}}
	srv := &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	// The configuration's String hides passwords and tokens.
	logger.Info("listening", "addr", ln.Addr().String(), "broker", pub.Config().String(), "topic", cfg.Topic)

	select {
	case err := <-served:
		return fmt.Errorf("http: %w", err)
	case <-ctx.Done():
	}
	logger.Info("stopping: no new connections, finishing the requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	if err := srv.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("http shutdown: %w", err))
	}
	if err := pub.Flush(sctx); err != nil {
		errs = append(errs, fmt.Errorf("flush: %w", err))
	}
	if err := pub.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("publisher shutdown: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	logger.Info("stopped cleanly")
	return nil
}
