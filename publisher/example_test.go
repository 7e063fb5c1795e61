package publisher_test

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

func ExampleOpen() {
	ctx := context.Background()
	pub, err := publisher.Open(ctx, "mem://example-pub")
	if err != nil {
		panic(err)
	}
	msg := herald.NewMessage([]byte(`{"id":"order-1"}`))
	herald.SetKey(msg, "order-1")
	fmt.Println(pub.Publish(ctx, "orders.created", msg))
	pub.Close()
	err = pub.Publish(ctx, "orders.created", herald.NewMessage(nil))
	fmt.Println(errors.Is(err, herald.ErrClosed))
	// Output:
	// <nil>
	// true
}

// Publish middleware wraps every publish; the first listed is outermost.
// They work on copies: the caller's message is never changed.
func ExampleWithMiddleware() {
	ctx := context.Background()
	stamp := func(next herald.PublishFunc) herald.PublishFunc {
		return func(ctx context.Context, topic string, msgs ...*herald.Message) error {
			for _, m := range msgs {
				m.Metadata.Set("source", "checkout")
			}
			return next(ctx, topic, msgs...)
		}
	}
	sub, err := subscriber.Open(ctx, "mem://example-mw?group=audit")
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	if err := sub.Prepare(ctx, "audit"); err != nil {
		panic(err)
	}
	pub, err := publisher.Open(ctx, "mem://example-mw", publisher.WithMiddleware(stamp))
	if err != nil {
		panic(err)
	}
	defer pub.Close()
	msg := herald.NewMessage(nil)
	_ = pub.Publish(ctx, "audit", msg)
	fmt.Printf("caller's message: %q\n", msg.Metadata.Get("source"))
	got := make(chan string, 1)
	sctx, cancel := context.WithCancel(ctx)
	go func() {
		_ = sub.Subscribe(sctx, "audit", func(_ context.Context, m *herald.Message) error {
			got <- m.Metadata.Get("source")
			return nil
		})
	}()
	fmt.Printf("published: %q\n", <-got)
	cancel()
	// Output:
	// caller's message: ""
	// published: "checkout"
}

// One producer goroutine keeps many messages in flight with PublishAsync;
// each gets its own answer, and Flush waits for all of them.
func ExamplePublisher_PublishAsync() {
	ctx := context.Background()
	pub, err := publisher.Open(ctx, "mem://example-async")
	if err != nil {
		panic(err)
	}
	defer pub.Close()
	var failed atomic.Int32
	for i := 0; i < 1000; i++ {
		msg := herald.NewMessage([]byte(fmt.Sprintf(`{"n":%d}`, i)))
		err := pub.PublishAsync(ctx, "readings", msg, func(m *herald.Message, err error) {
			if err != nil {
				failed.Add(1) // e.g. log m.UUID and publish it again
			}
		})
		if err != nil {
			panic(err) // not taken: closed publisher or ctx ended
		}
	}
	if err := pub.Flush(ctx); err != nil {
		panic(err)
	}
	fmt.Println("failed:", failed.Load())
	// Output:
	// failed: 0
}

// An order is cancelled unless it was paid within its timeout: the
// "cancel if unpaid" message is published now for delivery later, and
// PublishAfter returns once the backend stored it. A backend without
// delayed delivery (kafka, nats?mode=core) refuses the call with
// herald.ErrInvalid naming itself, instead of sending at once.
func ExamplePublisher_PublishAfter() {
	ctx := context.Background()
	sub, err := subscriber.Open(ctx, "mem://example-delay?group=payments")
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	if err := sub.Prepare(ctx, "orders.cancel-if-unpaid"); err != nil {
		panic(err)
	}
	pub, err := publisher.Open(ctx, "mem://example-delay")
	if err != nil {
		panic(err)
	}
	defer pub.Close()
	sent := time.Now()
	err = pub.PublishAfter(ctx, "orders.cancel-if-unpaid", 100*time.Millisecond, herald.NewMessage([]byte(`{"order":"o-1"}`)))
	fmt.Println("stored:", err)
	got := make(chan time.Duration, 1)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		_ = sub.Subscribe(sctx, "orders.cancel-if-unpaid", func(context.Context, *herald.Message) error {
			got <- time.Since(sent)
			return nil
		})
	}()
	fmt.Println("delivered after its delay:", <-got >= 100*time.Millisecond)

	// Output:
	// stored: <nil>
	// delivered after its delay: true
}
