package cloudevents_test

import (
	"context"
	"fmt"
	"time"

	"github.com/heraldkit/herald"
	_ "github.com/heraldkit/herald/adapters/memory"
	"github.com/heraldkit/herald/cloudevents"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// Publish an event in binary mode and handle it; the same code on
// kafka:// writes ce_ headers, on amqp:// cloudEvents_ headers.
func Example() {
	ctx := context.Background()
	sub, err := subscriber.Open(ctx, "mem://ce-example?group=billing")
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	if err := sub.Prepare(ctx, "orders"); err != nil {
		panic(err)
	}
	pub, err := publisher.Open(ctx, "mem://ce-example")
	if err != nil {
		panic(err)
	}
	defer pub.Close()

	ev := cloudevents.Event{
		ID:     "order-1-placed",
		Source: "/checkout",
		Type:   "com.example.order.placed",
		Time:   time.Date(2026, 12, 7, 13, 40, 0, 0, time.UTC),
	}
	if err := ev.SetJSONData(map[string]any{"order": 1}); err != nil {
		panic(err)
	}
	if err := ev.SetExtension("tenant", "acme"); err != nil {
		panic(err)
	}
	if err := cloudevents.Publish(ctx, pub, "orders", "order-1", ev); err != nil {
		panic(err)
	}

	done := make(chan struct{})
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		_ = sub.Subscribe(sctx, "orders", cloudevents.Handler(func(_ context.Context, ev cloudevents.Event, m *herald.Message) error {
			tenant, _ := ev.Extension("tenant")
			fmt.Println(ev.Type, ev.ID, ev.Time.Format(time.RFC3339), tenant, string(ev.Data))
			fmt.Println("header:", m.Metadata.Get("ce-type"), "key:", herald.Key(m))
			close(done)
			return nil
		}))
	}()
	<-done
	// Output:
	// com.example.order.placed order-1-placed 2026-12-07T13:40:00Z acme {"order":1}
	// header: com.example.order.placed key: order-1
}

// An invalid event is refused before anything is sent, naming the
// attribute.
func ExampleEvent_Validate() {
	err := cloudevents.Event{ID: "1", Source: "/s", Type: "t", DataSchema: "order.json"}.Validate()
	fmt.Println(err)
	// Output:
	// cloudevents: attribute "dataschema": value "order.json": is not an absolute URI (allowed: an absolute URI, e.g. https://example.com/schemas/order.json)
}

// The binding follows the backend.
func ExampleNewMessage() {
	ev := cloudevents.Event{ID: "1", Source: "/s", Type: "t", Subject: "a b"}
	for _, scheme := range []string{"kafka", "nats", "amqp"} {
		m, _ := cloudevents.NewMessage(scheme, ev)
		b, _ := cloudevents.BindingFor(scheme)
		fmt.Printf("%s: %ssubject=%q\n", b, b.Prefix(), m.Metadata.Get(b.Prefix()+"subject"))
	}
	m, _ := cloudevents.NewMessage("kafka", ev, cloudevents.WithMode(cloudevents.Structured))
	fmt.Println(m.Metadata.Get("content-type"))
	fmt.Println(string(m.Payload))
	// Output:
	// Kafka: ce_subject="a b"
	// NATS: ce-subject="a%20b"
	// AMQP: cloudEvents_subject="a b"
	// application/cloudevents+json; charset=UTF-8
	// {"specversion":"1.0","id":"1","source":"/s","type":"t","subject":"a b"}
}

// MessageID is the Herald message ID of a written event; a handler
// dedupes another producer's events on it too
// (middleware.DedupKey), since CloudEvents identifies an event by source
// and id together.
func ExampleMessageID() {
	a := cloudevents.MessageID("/sensors/a", "1")
	b := cloudevents.MessageID("/sensors/b", "1")
	fmt.Println(len(a), a == b, a == cloudevents.MessageID("/sensors/a", "1"))
	// Output: 35 false true
}
