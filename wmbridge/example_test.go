package wmbridge_test

import (
	"context"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	_ "github.com/heraldkit/herald/adapters/memory"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
	"github.com/heraldkit/herald/wmbridge"
)

// A Herald backend (here the in-process mem:// bus) as a Watermill
// publisher and subscriber.
func Example() {
	ctx := context.Background()
	sub, err := wmbridge.OpenSubscriber(ctx, "mem://example?group=billing")
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	pub, err := wmbridge.OpenPublisher(ctx, "mem://example")
	if err != nil {
		panic(err)
	}
	defer pub.Close()

	if err := sub.SubscribeInitialize("orders"); err != nil { // the group keeps what is published from now on
		panic(err)
	}
	if err := pub.Publish("orders", message.NewMessage("order-1", []byte("42 EUR"))); err != nil {
		panic(err)
	}
	msgs, err := sub.Subscribe(ctx, "orders")
	if err != nil {
		panic(err)
	}
	m := <-msgs
	fmt.Println(m.UUID, string(m.Payload))
	m.Ack()
	<-m.Context().Done() // cancelled once the message is settled
	fmt.Println("acked")
	// Output:
	// order-1 42 EUR
	// acked
}

// A Watermill Router with its own middleware on a Herald backend: the
// handler fails once, the Router's middleware runs it again, and its
// output goes through the Herald publisher. (Watermill's
// router/middleware package works the same way.)
func Example_router() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub, err := wmbridge.OpenSubscriber(ctx, "mem://example-router?group=billing")
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	invoices, err := wmbridge.OpenSubscriber(ctx, "mem://example-router?group=mail")
	if err != nil {
		panic(err)
	}
	defer invoices.Close()
	pub, err := wmbridge.OpenPublisher(ctx, "mem://example-router")
	if err != nil {
		panic(err)
	}
	defer pub.Close()

	router, err := message.NewRouter(message.RouterConfig{}, watermill.NopLogger{})
	if err != nil {
		panic(err)
	}
	retry := func(h message.HandlerFunc) message.HandlerFunc {
		return func(m *message.Message) ([]*message.Message, error) {
			out, err := h(m)
			for i := 0; err != nil && i < 3; i++ {
				time.Sleep(time.Millisecond)
				out, err = h(m)
			}
			return out, err
		}
	}
	router.AddMiddleware(retry)
	failed := false
	router.AddHandler("bill", "orders", sub, "invoices", pub, func(m *message.Message) ([]*message.Message, error) {
		if !failed {
			failed = true
			return nil, fmt.Errorf("billing unavailable")
		}
		return []*message.Message{message.NewMessage("invoice-"+m.UUID, m.Payload)}, nil
	})
	go func() {
		if err := router.Run(ctx); err != nil {
			panic(err)
		}
	}()
	<-router.Running()

	out, err := invoices.Subscribe(ctx, "invoices")
	if err != nil {
		panic(err)
	}
	if err := pub.Publish("orders", message.NewMessage("order-7", []byte("42 EUR"))); err != nil {
		panic(err)
	}
	m := <-out
	m.Ack()
	fmt.Println(m.UUID, string(m.Payload), "after a retry:", failed)
	if err := router.Close(); err != nil {
		panic(err)
	}
	// Output:
	// invoice-order-7 42 EUR after a retry: true
}

// A Watermill Pub/Sub (here Watermill's GoChannel, registered as
// "wmgochannel" in this package's tests) as a Herald backend, opened
// through Herald's publisher and subscriber.
func ExampleRegister() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// In an init function:
	//	wmbridge.Register("wmgochannel", wmbridge.Backend{NewPublisher: ..., NewSubscriber: ..., Capabilities: ...})
	ready := make(chan string, 1)
	sub, err := subscriber.Open(ctx, "wmgochannel://example", subscriber.WithReady(func(topic string) { ready <- topic }))
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	pub, err := publisher.Open(ctx, "wmgochannel://example")
	if err != nil {
		panic(err)
	}
	defer pub.Close()

	got := make(chan string, 1)
	go sub.Subscribe(ctx, "greetings", func(ctx context.Context, m *herald.Message) error {
		got <- string(m.Payload)
		return nil
	})
	<-ready
	if err := pub.Publish(ctx, "greetings", herald.NewMessage([]byte("hello from Herald over GoChannel"))); err != nil {
		panic(err)
	}
	fmt.Println(<-got)
	fmt.Println("durable:", sub.Capabilities().Durable)
	// Output:
	// hello from Herald over GoChannel
	// durable: false
}
