package embedded_test

import (
	"context"
	"fmt"
	"os"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	_ "github.com/heraldkit/herald/adapters/embedded"
)

// A publisher and a subscriber opened separately on one directory share
// one in-process server; the server stops when both are closed, and its
// data stays in the directory.
func Example() {
	dir, _ := os.MkdirTemp("", "herald-example")
	defer os.RemoveAll(dir)
	target := "embedded://" + dir + "?group=billing"
	ctx := context.Background()

	pub, _ := adapters.OpenPublisher(ctx, target)
	msg := herald.NewMessage([]byte("order 1234"))
	herald.SetKey(msg, "customer-42")
	if err := pub.Publish("orders.created", msg); err != nil {
		fmt.Println(err)
	}
	_ = pub.Close() // the server stops; the message is on disk

	sub, _ := adapters.OpenSubscriber(ctx, target) // starts it again
	defer sub.Close()
	ch, _ := sub.Subscribe(ctx, "orders.created")
	got := <-ch
	got.Ack()
	fmt.Println(string(got.Payload), herald.Key(got))
	// Output: order 1234 customer-42
}
