package publisher_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	_ "github.com/heraldkit/herald/adapters/all"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// Close concurrent with Publish, PublishAsync, Flush and Subscribe (one
// message published from many goroutines at once): every PublishAsync
// taken gets its done exactly once, nothing hangs, and no goroutine is
// left behind. Run with -race.
func TestCloseConcurrentWithEverything(t *testing.T) {
	urls := []string{"mem://attacklife"}
	for _, env := range []string{"HERALD_TEST_NATS", "HERALD_TEST_AMQP", "HERALD_TEST_KAFKA"} {
		if u := os.Getenv(env); u != "" {
			urls = append(urls, u)
		}
	}
	for _, u := range urls {
		t.Run(strings.SplitN(u, ":", 2)[0], func(t *testing.T) { closeConcurrent(t, u) })
	}
}

func closeConcurrent(t *testing.T, u string) {
	before := runtime.NumGoroutine()
	ctx := context.Background()
	rounds := 20
	if !strings.HasPrefix(u, "mem:") {
		rounds = 3
	}
	for round := range rounds {
		pub, err := publisher.Open(ctx, u, publisher.WithAsyncWindow(8),
			publisher.WithMiddleware(func(next herald.PublishFunc) herald.PublishFunc {
				return func(ctx context.Context, topic string, msgs ...*herald.Message) error {
					for _, m := range msgs {
						m.Metadata.Set("mw", "1")
					}
					return next(ctx, topic, msgs...)
				}
			}))
		if err != nil {
			t.Fatal(err)
		}
		sub, err := subscriber.Open(ctx, u, subscriber.WithConcurrency(4))
		if err != nil {
			t.Fatal(err)
		}
		shared := herald.NewMessage([]byte("same"))
		topic := fmt.Sprintf("herald.attack.life.%d.%d", time.Now().UnixNano(), round)
		var taken, dones atomic.Int64
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 50 {
					if pub.PublishAsync(ctx, topic, shared, func(*herald.Message, error) { dones.Add(1) }) == nil {
						taken.Add(1)
					}
					_ = pub.Publish(ctx, topic, shared)
				}
			})
		}
		wg.Go(func() { _ = pub.Flush(ctx) })
		wg.Go(func() {
			_ = sub.Subscribe(ctx, topic, func(context.Context, *herald.Message) error { return nil })
		})
		if round%2 == 0 {
			time.Sleep(time.Millisecond)
		}
		closed := make(chan struct{})
		go func() {
			_ = pub.Close()
			_ = sub.Close()
			close(closed)
		}()
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatal("Close hung")
		}
		waited := make(chan struct{})
		go func() { wg.Wait(); close(waited) }()
		select {
		case <-waited:
		case <-time.After(10 * time.Second):
			t.Fatal("a Publish, Flush or Subscribe hung after Close")
		}
		if taken.Load() != dones.Load() {
			t.Fatalf("round %d: %d PublishAsync taken, %d dones", round, taken.Load(), dones.Load())
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines after Close, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}
