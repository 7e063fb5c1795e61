package protobuf_test

import (
	"context"
	"fmt"

	"github.com/heraldkit/herald"
	_ "github.com/heraldkit/herald/adapters/memory"
	"github.com/heraldkit/herald/cloudevents"
	"github.com/heraldkit/herald/protobuf"
	"github.com/heraldkit/herald/protobuf/internal/orderpb"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// Publish a generated message and handle it typed; a payload that is not
// an Order is a permanent error, dead-lettered rather than retried.
func Example() {
	ctx := context.Background()
	sub, err := subscriber.Open(ctx, "mem://protobuf-example?group=billing")
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	if err := sub.Prepare(ctx, "orders"); err != nil {
		panic(err)
	}
	pub, err := publisher.Open(ctx, "mem://protobuf-example")
	if err != nil {
		panic(err)
	}
	defer pub.Close()
	order := &orderpb.Order{Id: "order-1", TotalCents: 2550, Currency: "EUR"}
	if err := protobuf.Publish(ctx, pub, "orders", "customer-7", order); err != nil {
		panic(err)
	}
	done := make(chan struct{})
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		_ = sub.Subscribe(sctx, "orders", protobuf.Handler(func(_ context.Context, o *orderpb.Order, m *herald.Message) error {
			fmt.Println(o.GetId(), o.GetTotalCents(), o.GetCurrency(), herald.Header(m, herald.ContentTypeHeader))
			close(done)
			return nil
		}))
	}()
	<-done
	// Output:
	// order-1 2550 EUR application/protobuf
}

// A CloudEvent whose data is a Protocol Buffers message: the codec fills
// datacontenttype and dataschema, and EventData checks both.
func ExampleSetEventData() {
	ev := cloudevents.Event{ID: "order-1-placed", Source: "/checkout", Type: "com.example.order.placed"}
	if err := protobuf.SetEventData(&ev, &orderpb.Order{Id: "order-1"}); err != nil {
		panic(err)
	}
	fmt.Println(ev.DataContentType)
	fmt.Println(ev.DataSchema)
	o, err := protobuf.EventData[*orderpb.Order](ev)
	fmt.Println(o.GetId(), err)
	_, err = protobuf.EventData[*orderpb.Item](ev)
	fmt.Println(herald.IsPermanent(err))
	// Output:
	// application/protobuf
	// https://type.googleapis.com/herald.example.v1.Order
	// order-1 <nil>
	// true
}
