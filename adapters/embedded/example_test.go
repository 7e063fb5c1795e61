package embedded_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	_ "github.com/heraldkit/herald/adapters/embedded"
)

// A topic and a subscription opened separately on one directory share
// one in-process server; the server stops when both are closed, and its
// data stays in the directory. (Applications use the publisher and
// subscriber packages; this drives the driver directly.)
func Example() {
	dir, _ := os.MkdirTemp("", "herald-example")
	defer os.RemoveAll(dir)
	cfg, _ := herald.ParseURL("embedded://" + dir + "?group=billing")
	d, _ := adapters.For(cfg)
	ctx := context.Background()
	env := adapters.Env{Logger: slog.Default()}

	t, _ := d.OpenTopic(ctx, cfg, env)
	msg := herald.NewMessage([]byte("order 1234"))
	herald.SetKey(msg, "customer-42")
	done := make(chan error, 1)
	if err := t.Send(ctx, "orders.created", msg, adapters.SendOptions{}, func(err error) { done <- err }); err != nil {
		fmt.Println(err)
	}
	if err := <-done; err != nil {
		fmt.Println(err)
	}
	_ = t.Close(ctx) // the server stops; the message is on disk

	sub, _ := d.OpenSubscription(ctx, cfg, env) // starts it again
	defer sub.Close(ctx)
	st, _ := sub.Open(ctx, "orders.created", adapters.StreamOptions{Window: 8, Status: func(error) {}})
	buf := make([]adapters.Received, 1)
	if _, err := st.Receive(ctx, buf); err != nil {
		fmt.Println(err)
	}
	st.Ack(buf[0].Token)
	fmt.Println(string(buf[0].Msg.Payload), buf[0].Key)
	// Output: order 1234 customer-42
}
