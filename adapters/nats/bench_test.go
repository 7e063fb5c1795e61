package nats_test

import (
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmjs "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/jetstream"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"

	"github.com/heraldkit/herald/adapters/internal/natsx/natsxtest"
)

// BenchmarkNATS compares, in one run, Herald's adapter (JetStream) with
// stock watermill-nats: pkg/nats with its README JetStream config
// (AutoProvision, sync publish, sync ack) and pkg/jetstream with its
// defaults. 1 KiB messages; msg/s is the figure to read.
//
//	HERALD_TEST_NATS=nats://127.0.0.1:4222 go test ./adapters/nats -run '^$' -bench NATS -benchtime 5000x
//
// Adapter-only: it drives the adapter's Watermill publisher and
// subscriber directly, bypassing the publisher and subscriber packages;
// Herald as users run it, beside the native clients, is measured by
// bench/ (make bench-compare).
func BenchmarkNATS(b *testing.B) {
	u := brokerURL(b)
	herald := natsxtest.Target{
		Publisher:  func(b *testing.B) message.Publisher { return openPub(b, u) },
		Subscriber: func(b *testing.B) message.Subscriber { return openSub(b, withQuery(u, "group=bench")) },
		Topic:      func() string { return "bench." + natsxtest.Topic("herald") },
	}
	jsConfig := wmnats.JetStreamConfig{
		AutoProvision:    true,
		SubscribeOptions: []nats.SubOpt{nats.DeliverAll(), nats.AckExplicit()},
	}
	stockNats := natsxtest.Target{
		Publisher: func(b *testing.B) message.Publisher {
			p, err := wmnats.NewPublisher(wmnats.PublisherConfig{URL: u, Marshaler: &wmnats.NATSMarshaler{}, JetStream: jsConfig}, watermill.NopLogger{})
			if err != nil {
				b.Fatal(err)
			}
			return p
		},
		Subscriber: func(b *testing.B) message.Subscriber {
			s, err := wmnats.NewSubscriber(wmnats.SubscriberConfig{URL: u, Unmarshaler: &wmnats.NATSMarshaler{}, AckWaitTimeout: 30 * time.Second, JetStream: jsConfig}, watermill.NopLogger{})
			if err != nil {
				b.Fatal(err)
			}
			return s
		},
		Topic: func() string { return natsxtest.Topic("wmnats") },
	}
	stockJS := natsxtest.Target{
		Publisher: func(b *testing.B) message.Publisher {
			p, err := wmjs.NewPublisher(wmjs.PublisherConfig{URL: u, Logger: watermill.NopLogger{}})
			if err != nil {
				b.Fatal(err)
			}
			return p
		},
		Subscriber: func(b *testing.B) message.Subscriber {
			s, err := wmjs.NewSubscriber(wmjs.SubscriberConfig{URL: u, Logger: watermill.NopLogger{}})
			if err != nil {
				b.Fatal(err)
			}
			return s
		},
		Topic: func() string { return natsxtest.Topic("wmjs") },
	}
	b.Run("herald/publish-1", func(b *testing.B) { natsxtest.Publish(b, herald, 1) })
	b.Run("herald/publish-batch100", func(b *testing.B) { natsxtest.Publish(b, herald, 100) })
	b.Run("herald/e2e-batch100", func(b *testing.B) { natsxtest.EndToEnd(b, herald, 100) })
	b.Run("herald/e2e-1", func(b *testing.B) { natsxtest.EndToEnd(b, herald, 1) })
	b.Run("watermill-nats-pkg-nats/publish-1", func(b *testing.B) { natsxtest.Publish(b, stockNats, 1) })
	b.Run("watermill-nats-pkg-nats/e2e-1", func(b *testing.B) { natsxtest.EndToEnd(b, stockNats, 1) })
	b.Run("watermill-nats-pkg-jetstream/e2e-1", func(b *testing.B) { natsxtest.EndToEnd(b, stockJS, 1) })
}
