package heraldtest_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/heraldtest"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/request"
	"github.com/heraldkit/herald/subscriber"
)

// A service runs on the harness through its URL; after Drain, what was
// published and handled is final.
func Example() {
	ctx := context.Background()
	h := heraldtest.Open() // in a test: heraldtest.New(t)
	defer h.Close()

	svc, err := startBilling(ctx, h.URL()) // the service under test, unchanged
	if err != nil {
		panic(err)
	}
	defer svc.Stop()
	pub, _ := publisher.Open(ctx, h.URL())
	defer pub.Close()
	_ = h.WaitSubscribed(ctx, "orders", "billing")

	_ = herald.PublishJSON(ctx, pub, "orders", "o-1", Order{ID: "o-1", Cents: 1250})
	_ = herald.PublishJSON(ctx, pub, "orders", "o-2", Order{ID: "o-2"})
	if err := h.Drain(ctx); err != nil {
		panic(err)
	}
	for _, m := range h.Published("invoices") {
		inv, _ := herald.Decode[Invoice](m)
		fmt.Printf("invoice for %s: %d cents\n", inv.Order, inv.Cents)
	}
	fmt.Println("handled:", len(h.Handled("orders", "billing")), "dead-lettered:", len(h.DeadLettered("orders", "billing")))
	// Output:
	// invoice for o-1: 1250 cents
	// handled: 1 dead-lettered: 1
}

// The n-th publish fails with the kind of error asked for.
func ExampleHarness_FailPublish() {
	ctx := context.Background()
	h := heraldtest.Open()
	defer h.Close()
	pub, _ := publisher.Open(ctx, h.URL())
	defer pub.Close()

	h.FailPublish("orders", 2, herald.KindUnreachable)
	for i := 1; i <= 3; i++ {
		err := pub.Publish(ctx, "orders", herald.NewMessage(nil))
		fmt.Printf("publish %d: unreachable=%v\n", i, errors.Is(err, herald.ErrUnreachable))
	}
	fmt.Println("stored:", len(h.Published("orders")))
	// Output:
	// publish 1: unreachable=false
	// publish 2: unreachable=true
	// publish 3: unreachable=false
	// stored: 2
}

// A failed message is redelivered after the subscriber's delay on the
// harness's clock: Idle shows each step, Drain runs to the end.
func ExampleHarness_Idle() {
	ctx := context.Background()
	h := heraldtest.Open()
	defer h.Close()
	sub, _ := subscriber.Open(ctx, h.URL(), subscriber.WithGroup("g"), subscriber.WithLogger(slog.New(slog.DiscardHandler)))
	defer sub.Close()
	go sub.Subscribe(ctx, "t", func(ctx context.Context, m *herald.Message) error {
		if d, _ := herald.DeliveryFromContext(ctx); d.Attempt < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	_ = h.WaitSubscribed(ctx, "t", "g")
	pub, _ := publisher.Open(ctx, h.URL())
	defer pub.Close()
	m := herald.NewMessage(nil)
	start := h.Clock().Now()
	_ = pub.Publish(ctx, "t", m)

	_ = h.Idle(ctx)
	fmt.Println("attempts at 0 ms:", h.Attempts("t", "g", m.UUID))
	h.Clock().Advance(100 * time.Millisecond) // the first redelivery delay
	_ = h.Idle(ctx)
	fmt.Println("attempts at 100 ms:", h.Attempts("t", "g", m.UUID))
	_ = h.Drain(ctx) // jumps the 200 ms of the second delay
	fmt.Println("attempts:", h.Attempts("t", "g", m.UUID), "after", h.Clock().Now().Sub(start))
	// Output:
	// attempts at 0 ms: 1
	// attempts at 100 ms: 2
	// attempts: 3 after 300ms
}

// While the backend is down, publishes fail as unreachable and
// subscribers report an outage; they recover on Up.
func ExampleHarness_Down() {
	ctx := context.Background()
	h := heraldtest.Open()
	defer h.Close()
	sub, _ := subscriber.Open(ctx, h.URL(), subscriber.WithLogger(slog.New(slog.DiscardHandler)))
	defer sub.Close()
	go sub.Subscribe(ctx, "t", func(context.Context, *herald.Message) error { return nil })
	_ = h.WaitSubscribed(ctx, "t", "")
	pub, _ := publisher.Open(ctx, h.URL())
	defer pub.Close()

	h.Down()
	err := pub.Publish(ctx, "t", herald.NewMessage(nil))
	fmt.Println("publish unreachable:", errors.Is(err, herald.ErrUnreachable))
	fmt.Println("subscriber healthy:", sub.Health() == nil)
	h.Up()
	fmt.Println("subscriber healthy:", sub.Health() == nil)
	// Output:
	// publish unreachable: true
	// subscriber healthy: false
	// subscriber healthy: true
}

// A delayed message is held on the harness's clock: Publications has its
// delivery time, a tick before it nothing is delivered, at it the message
// is; Drain would jump there by itself.
func ExampleHarness_Publications() {
	ctx := context.Background()
	h := heraldtest.Open()
	defer h.Close()
	sub, _ := subscriber.Open(ctx, h.URL(), subscriber.WithGroup("g"))
	defer sub.Close()
	go sub.Subscribe(ctx, "reminders", func(_ context.Context, m *herald.Message) error {
		fmt.Printf("delivered %q\n", m.Payload)
		return nil
	})
	_ = h.WaitSubscribed(ctx, "reminders", "g")
	pub, _ := publisher.Open(ctx, h.URL())
	defer pub.Close()

	start := h.Clock().Now()
	_ = pub.PublishAt(ctx, "reminders", start.Add(24*time.Hour), herald.NewMessage([]byte("renew")))
	p := h.Publications("reminders")[0]
	fmt.Println("due in:", p.DeliverAt.Sub(start), "held:", p.Held)
	h.Clock().AdvanceTo(p.DeliverAt.Add(-time.Nanosecond))
	_ = h.Idle(ctx)
	fmt.Println("a tick before: held:", h.Publications("reminders")[0].Held)
	h.Clock().AdvanceTo(p.DeliverAt)
	_ = h.Idle(ctx)
	// Output:
	// due in: 24h0m0s held: true
	// a tick before: held: true
	// delivered "renew"
}

// Request/reply on the harness: a responder is an ordinary handler, a
// request to a topic nobody subscribes to fails at once, and Requests
// records each request with its reply.
func ExampleHarness_Requests() {
	ctx := context.Background()
	h := heraldtest.Open()
	defer h.Close()
	client, _ := request.Open(ctx, h.URL())
	defer client.Close()
	sub, _ := subscriber.Open(ctx, h.URL(), subscriber.WithGroup("pricing"))
	defer sub.Close()
	go sub.Subscribe(ctx, "prices", request.Responder(client, func(_ context.Context, q Query) (Quote, error) {
		return Quote{SKU: q.SKU, Cents: 499}, nil
	}))
	_ = h.WaitSubscribed(ctx, "prices", "pricing")

	q, err := request.Request[Query, Quote](ctx, client, "prices", Query{SKU: "A1"})
	fmt.Println("quote:", q.Cents, err)
	_, err = request.Request[Query, Quote](ctx, client, "stock", Query{SKU: "A1"})
	fmt.Println("no responder:", errors.Is(err, request.ErrNoResponder))
	for _, r := range h.Requests("prices") {
		reply, _ := herald.Decode[Quote](r.Reply)
		fmt.Printf("recorded: %s -> %d cents (%d reply)\n", r.Msg.Payload, reply.Cents, r.Replies)
	}
	// Output:
	// quote: 499 <nil>
	// no responder: true
	// recorded: {"SKU":"A1"} -> 499 cents (1 reply)
}
