package chaos

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/heraldkit/herald"
	_ "github.com/heraldkit/herald/adapters/all" // every backend
	"github.com/heraldkit/herald/subscriber"
)

// Environment of a consumer process.
const (
	envChild = "HERALD_CHAOS_CONSUMER" // "1" in a consumer process
	envURL   = "HERALD_CHAOS_URL"
	envTopic = "HERALD_CHAOS_TOPIC"
	envGroup = "HERALD_CHAOS_GROUP"
)

// RunConsumerIfChild runs the consumer role and exits when this process
// was started as one of the harness's consumer processes; otherwise it
// returns at once. Call it first in main (and TestMain).
func RunConsumerIfChild() {
	if os.Getenv(envChild) != "1" {
		return
	}
	if err := consume(os.Getenv(envURL), os.Getenv(envTopic), os.Getenv(envGroup)); err != nil {
		fmt.Fprintf(os.Stderr, "chaos consumer: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// consume subscribes as a member of group and writes "ready" once
// subscribed, then the ID of every message it gets, one a line, to stdout
// before acking it (a write to the pipe survives a SIGKILL; the parent
// counts it). It returns on SIGTERM.
func consume(url, topic, group string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	sub, err := subscriber.Open(ctx, url,
		subscriber.WithGroup(group),
		subscriber.WithConcurrency(8),
		subscriber.WithRecoveryTimeout(10*time.Minute),
		subscriber.WithReady(func(string) { _, _ = os.Stdout.WriteString("ready\n") }))
	if err != nil {
		return err
	}
	defer func() { _ = sub.Shutdown(context.Background()) }()
	return sub.Subscribe(ctx, topic, func(_ context.Context, m *herald.Message) error {
		_, err := os.Stdout.WriteString(m.UUID + "\n")
		return err
	})
}
