package publisher_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/heraldtest"
	"github.com/heraldkit/herald/publisher"
)

// PublishWith sets broker properties that are not headers (on RabbitMQ
// the AMQP type, expiration and timestamp; on Kafka the record
// timestamp). A backend that has no such property refuses it by name.
func ExamplePublisher_PublishWith() {
	ctx := context.Background()
	h := heraldtest.Open() // records the properties; on amqp:// they are AMQP properties
	defer h.Close()
	pub, _ := publisher.Open(ctx, h.URL())
	defer pub.Close()

	props := herald.Properties{Type: "com.example.order.placed", TTL: 10 * time.Minute}
	if err := pub.PublishWith(ctx, "orders", props, herald.NewMessage([]byte(`{"order":1}`))); err != nil {
		panic(err)
	}
	p := h.Publications("orders")[0]
	fmt.Println(p.Properties.Type, p.Properties.TTL)

	mem, _ := publisher.Open(ctx, "mem://")
	defer mem.Close()
	err := mem.PublishWith(ctx, "orders", props, herald.NewMessage(nil))
	fmt.Println(errors.Is(err, herald.ErrInvalid))
	// Output:
	// com.example.order.placed 10m0s
	// true
}
