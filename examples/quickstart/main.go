// Command quickstart publishes three orders and consumes them in one
// program. With no configuration it runs on Herald's embedded broker (no
// setup); set HERALD_URL (for example nats://127.0.0.1:4222) to run the
// same code on another backend.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/heraldkit/herald"
	_ "github.com/heraldkit/herald/adapters/all"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// Order is the event this example sends.
type Order struct {
	ID     string  `json:"id"`
	Amount float64 `json:"amount"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// "" means: HERALD_URL if set, else the embedded broker.
	if err := run(ctx, "", os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run publishes three orders to target and prints them to out as they
// are sent and received.
func run(ctx context.Context, target string, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	pub, err := publisher.Open(ctx, target)
	if err != nil {
		return err
	}
	defer pub.Close()

	ready := make(chan string, 1)
	sub, err := subscriber.Open(ctx, target, subscriber.WithReady(func(topic string) { ready <- topic }))
	if err != nil {
		return err
	}
	defer sub.Close()
	fmt.Fprintln(out, "backend:", sub.Config())

	orders := []Order{{"order-1001", 25.50}, {"order-1002", 99.00}, {"order-1003", 7.25}}
	var wg sync.WaitGroup
	wg.Add(len(orders))
	want := map[string]bool{}
	var mu sync.Mutex

	subCtx, stopSub := context.WithCancel(ctx)
	defer stopSub()
	subDone := make(chan error, 1)
	go func() {
		subDone <- sub.Subscribe(subCtx, "orders.created", herald.JSON(func(ctx context.Context, o Order, m *herald.Message) error {
			mu.Lock()
			defer mu.Unlock()
			if !want[m.UUID] {
				return nil // not one of ours
			}
			delete(want, m.UUID)
			fmt.Fprintf(out, "received %s: %s amount=%.2f key=%s\n", m.UUID, o.ID, o.Amount, herald.Key(m))
			wg.Done()
			return nil // ack
		}))
	}()
	select {
	case <-ready:
	case err := <-subDone:
		return fmt.Errorf("subscribe: %w", err)
	case <-ctx.Done():
		return fmt.Errorf("subscription not ready: %w", ctx.Err())
	}

	for _, o := range orders {
		m, err := herald.NewJSONMessage(o)
		if err != nil {
			return err
		}
		herald.SetKey(m, o.ID)
		mu.Lock()
		want[m.UUID] = true
		mu.Unlock()
		if err := pub.Publish(ctx, "orders.created", m); err != nil {
			return err
		}
		mu.Lock() // the handler writes to out too
		fmt.Fprintf(out, "sent     %s: %s amount=%.2f\n", m.UUID, o.ID, o.Amount)
		mu.Unlock()
	}

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		fmt.Fprintln(out, "all orders received")
	case <-ctx.Done():
		return fmt.Errorf("waiting for orders: %w", ctx.Err())
	}
	stopSub()
	return <-subDone
}
