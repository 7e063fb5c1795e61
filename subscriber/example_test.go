package subscriber_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/heraldkit/herald"
	_ "github.com/heraldkit/herald/adapters/memory"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// A handler error leads to redelivery; the message is acked once the
// handler succeeds.
func ExampleSubscriber_Subscribe() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	sub, err := subscriber.Open(ctx, "mem://example-sub",
		subscriber.WithGroup("payments"),
		subscriber.WithConcurrency(4),
		subscriber.WithReady(func(topic string) { ready <- topic }))
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	pub, err := publisher.Open(ctx, "mem://example-sub")
	if err != nil {
		panic(err)
	}
	defer pub.Close()

	var attempts atomic.Int32
	done := make(chan struct{})
	go sub.Subscribe(ctx, "orders.created", func(ctx context.Context, m *herald.Message) error {
		if attempts.Add(1) < 3 {
			return errors.New("payment service unavailable") // nack: delivered again
		}
		fmt.Printf("charged %s after %d attempts\n", m.Payload, attempts.Load())
		close(done)
		return nil // ack
	})
	fmt.Println("subscribed to", <-ready)
	if err := pub.Publish(ctx, "orders.created", herald.NewMessage([]byte("order-1"))); err != nil {
		panic(err)
	}
	<-done
	// Output:
	// subscribed to orders.created
	// charged order-1 after 3 attempts
}

// Health feeds a health endpoint; Shutdown bounds the stop by the
// deadline an orchestrator gives (e.g. the grace period after SIGTERM).
func ExampleSubscriber_Shutdown() {
	ctx := context.Background()
	ready := make(chan string, 1)
	sub, err := subscriber.Open(ctx, "mem://example-shutdown",
		subscriber.WithReady(func(topic string) { ready <- topic }),
		subscriber.WithErrorHook(func(err error) { fmt.Println("alert:", err) }))
	if err != nil {
		panic(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- sub.Subscribe(ctx, "orders.created", func(context.Context, *herald.Message) error { return nil })
	}()
	<-ready
	fmt.Println("healthy:", sub.Health() == nil) // e.g. in a /healthz handler

	stop, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	fmt.Println("shutdown:", sub.Shutdown(stop))
	fmt.Println("subscribe returned:", <-done)
	// Output:
	// healthy: true
	// shutdown: <nil>
	// subscribe returned: <nil>
}
