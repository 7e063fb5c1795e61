package faults

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/internal/faultkit"
	"github.com/heraldkit/herald/subscriber"
)

// consumer counts every message of a topic, by ID, as one group member
// in this process.
type consumer struct {
	sub    *subscriber.Subscriber
	cancel context.CancelFunc
	done   chan error
}

func startConsumer(url, topic, group string, t *tally, log *slog.Logger) (*consumer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ready := faultkit.NewSignal()
	sub, err := subscriber.Open(ctx, url, subscriber.WithGroup(group), subscriber.WithConcurrency(8),
		subscriber.WithRecoveryTimeout(10*time.Minute), subscriber.WithLogger(log),
		subscriber.WithReady(func(string) { ready.Notify() }))
	if err != nil {
		return nil, fmt.Errorf("open the consumer: %w", err)
	}
	if err := sub.Prepare(ctx, topic); err != nil { // the stream, before any relay publishes
		_ = sub.Close()
		return nil, fmt.Errorf("prepare %s: %w", topic, err)
	}
	sctx, stop := context.WithCancel(context.Background())
	c := &consumer{sub: sub, cancel: stop, done: make(chan error, 1)}
	go func() {
		c.done <- sub.Subscribe(sctx, topic, func(_ context.Context, m *herald.Message) error {
			t.delivered(m.UUID, time.Now())
			return nil
		})
	}()
	select {
	case <-ready:
		return c, nil
	case err := <-c.done:
		_ = sub.Close()
		return nil, fmt.Errorf("subscribe %s: %v", topic, err)
	case <-ctx.Done():
		c.close()
		return nil, fmt.Errorf("subscribe %s: not subscribed within a minute", topic)
	}
}

// close stops the subscription and returns its error.
func (c *consumer) close() error {
	c.cancel()
	err := <-c.done
	_ = c.sub.Close()
	return err
}
