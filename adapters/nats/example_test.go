package nats_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	_ "github.com/heraldkit/herald/adapters/nats"
)

// Reaching the NATS connection and the JetStream context behind the
// publish side (the consume side has the same As method).
func Example_escapeHatch() {
	cfg, err := herald.ParseURL("nats://127.0.0.1:4222?ack_wait=1m")
	if err != nil {
		fmt.Println(err)
		return
	}
	d, err := adapters.For(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	t, err := d.OpenTopic(context.Background(), cfg, adapters.Env{Logger: slog.Default()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer t.Close(context.Background())
	var nc *nats.Conn
	var js jetstream.JetStream
	if t.As(&nc) && t.As(&js) {
		info, _ := js.AccountInfo(context.Background())
		fmt.Println(nc.ConnectedUrl(), info.Streams)
	}
}
