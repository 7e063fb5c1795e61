package embedded_test

import (
	"testing"

	"github.com/ThreeDotsLabs/watermill"
	wmjs "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/jetstream"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/heraldkit/herald/adapters/internal/natsx/natsxtest"
)

// BenchmarkEmbedded measures the embedded broker, and stock watermill-nats
// pkg/jetstream (defaults) on the same in-process server for comparison.
// 1 KiB messages; msg/s is the figure to read.
//
//	go test ./adapters/embedded -run '^$' -bench Embedded -benchtime 5000x
//
// Adapter-only: it drives the adapter's Watermill publisher and
// subscriber directly, bypassing the publisher and subscriber packages;
// Herald as users run it, beside the native clients, is measured by
// bench/ (make bench-compare).
func BenchmarkEmbedded(b *testing.B) {
	u := target(b.TempDir(), "")
	keep := openPub(b, u) // keeps the server up between sub-benchmarks
	var srv *server.Server
	if !keep.(interface{ As(any) bool }).As(&srv) {
		b.Fatal("As(*server.Server) failed")
	}
	herald := natsxtest.Target{
		Publisher:  func(b *testing.B) message.Publisher { return openPub(b, u) },
		Subscriber: func(b *testing.B) message.Subscriber { return openSub(b, u+"?group=bench") },
		Topic:      func() string { return "bench." + natsxtest.Topic("herald") },
	}
	conn := func(b *testing.B) *nats.Conn {
		nc, err := nats.Connect("", nats.InProcessServer(srv))
		if err != nil {
			b.Fatal(err)
		}
		return nc
	}
	stock := natsxtest.Target{
		Publisher: func(b *testing.B) message.Publisher {
			p, err := wmjs.NewPublisher(wmjs.PublisherConfig{Conn: conn(b), Logger: watermill.NopLogger{}})
			if err != nil {
				b.Fatal(err)
			}
			return p
		},
		Subscriber: func(b *testing.B) message.Subscriber {
			s, err := wmjs.NewSubscriber(wmjs.SubscriberConfig{Conn: conn(b), Logger: watermill.NopLogger{}})
			if err != nil {
				b.Fatal(err)
			}
			return s
		},
		Topic: func() string { return natsxtest.Topic("wmjs") },
	}
	b.Run("herald/publish-1", func(b *testing.B) { natsxtest.Publish(b, herald, 1) })
	b.Run("herald/publish-batch100", func(b *testing.B) { natsxtest.Publish(b, herald, 100) })
	b.Run("herald/e2e-1", func(b *testing.B) { natsxtest.EndToEnd(b, herald, 1) })
	b.Run("herald/e2e-batch100", func(b *testing.B) { natsxtest.EndToEnd(b, herald, 100) })
	b.Run("watermill-nats-pkg-jetstream/e2e-1", func(b *testing.B) { natsxtest.EndToEnd(b, stock, 1) })
}
