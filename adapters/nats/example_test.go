package nats_test

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldkit/herald/adapters"
	_ "github.com/heraldkit/herald/adapters/nats"
)

// Reaching the NATS connection and the JetStream context behind a
// publisher (the subscriber has the same As method).
func Example_escapeHatch() {
	pub, err := adapters.OpenPublisher(context.Background(), "nats://127.0.0.1:4222?ack_wait=1m")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pub.Close()
	as := pub.(interface{ As(any) bool })
	var nc *nats.Conn
	var js jetstream.JetStream
	if as.As(&nc) && as.As(&js) {
		info, _ := js.AccountInfo(context.Background())
		fmt.Println(nc.ConnectedUrl(), info.Streams)
	}
}
