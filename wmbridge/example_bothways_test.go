package wmbridge_test

import (
	"context"
	"fmt"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"github.com/heraldkit/herald"
	_ "github.com/heraldkit/herald/adapters/memory"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
	"github.com/heraldkit/herald/wmbridge"
)

// bus is one Watermill GoChannel, the publisher and subscriber of the
// Herald backend "gochannel". Herald closes both; the bus ends with the
// process.
type bus struct{ *gochannel.GoChannel }

func (bus) Close() error { return nil }

func init() {
	b := bus{gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{})}
	wmbridge.Register("gochannel", wmbridge.Backend{
		NewPublisher: func(context.Context, herald.Config, watermill.LoggerAdapter) (message.Publisher, error) {
			return b, nil
		},
		NewSubscriber: func(context.Context, herald.Config, watermill.LoggerAdapter) (message.Subscriber, error) {
			return b, nil
		},
		// No Capabilities: wmbridge.Conservative(), nothing beyond
		// Watermill's own contract (not durable, no groups, no order).
	})
}

// Watermill both ways: a Watermill Pub/Sub (GoChannel) opened through
// Herald's publisher and subscriber, then a Herald backend (mem://) under
// a Watermill Router with a middleware. Watermill's router/middleware
// (Retry, CorrelationID, ...) plugs in the same way; wmbridge/wmtest runs
// it on all five backends.
func Example_bothWays() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// 1. A Watermill backend through Herald.
	ready := make(chan string, 1)
	sub, err := subscriber.Open(ctx, "gochannel://local", subscriber.WithReady(func(topic string) { ready <- topic }))
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	pub, err := publisher.Open(ctx, "gochannel://local")
	if err != nil {
		panic(err)
	}
	defer pub.Close()
	got := make(chan string, 1)
	go sub.Subscribe(ctx, "greetings", func(_ context.Context, m *herald.Message) error {
		got <- string(m.Payload)
		return nil
	})
	<-ready
	if err := pub.Publish(ctx, "greetings", herald.NewMessage([]byte("hello through Herald"))); err != nil {
		panic(err)
	}
	fmt.Println(<-got)

	// 2. A Herald backend under a Watermill Router.
	orders, err := wmbridge.OpenSubscriber(ctx, "mem://shop?group=billing")
	if err != nil {
		panic(err)
	}
	invoices, err := wmbridge.OpenSubscriber(ctx, "mem://shop?group=mail")
	if err != nil {
		panic(err)
	}
	out, err := wmbridge.OpenPublisher(ctx, "mem://shop")
	if err != nil {
		panic(err)
	}
	router, err := message.NewRouter(message.RouterConfig{}, watermill.NopLogger{})
	if err != nil {
		panic(err)
	}
	stamp := func(h message.HandlerFunc) message.HandlerFunc {
		return func(m *message.Message) ([]*message.Message, error) {
			out, err := h(m)
			for _, o := range out {
				o.Metadata.Set("order", m.UUID)
			}
			return out, err
		}
	}
	router.AddMiddleware(stamp)
	router.AddHandler("bill", "orders", orders, "invoices", out, func(m *message.Message) ([]*message.Message, error) {
		return []*message.Message{message.NewMessage("invoice-"+m.UUID, m.Payload)}, nil
	})
	go func() { _ = router.Run(ctx) }()
	<-router.Running()
	mail, err := invoices.Subscribe(ctx, "invoices")
	if err != nil {
		panic(err)
	}
	if err := out.Publish("orders", message.NewMessage("order-7", []byte("42 EUR"))); err != nil {
		panic(err)
	}
	m := <-mail
	m.Ack()
	fmt.Println(m.UUID, string(m.Payload), "for", m.Metadata.Get("order"))
	_ = router.Close() // closes orders and out
	_ = invoices.Close()
	// Output:
	// hello through Herald
	// invoice-order-7 42 EUR for order-7
}
