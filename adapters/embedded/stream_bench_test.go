package embedded_test

import (
	"context"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/internal/natsx/natsxtest"
)

// BenchmarkStreamPath measures the adapter-only fast path (no facade):
// PublishAsync of 1 KiB messages into Stream with a window of 256, each
// delivery acked, against nats.go's own PublishMsgAsync and pull consumer
// on the same in-process server. allocs/op is per message, both sides.
//
//	go test ./adapters/embedded -run '^$' -bench StreamPath -benchtime 5000x
func BenchmarkStreamPath(b *testing.B) {
	dir := b.TempDir()
	u := target(dir, "")
	keep := openPub(b, u)
	var srv *server.Server
	if !keep.(interface{ As(any) bool }).As(&srv) {
		b.Fatal("As(*server.Server) failed")
	}
	payload := make([]byte, natsxtest.PayloadSize)
	b.Run("herald-adapter", func(b *testing.B) {
		tp := topic()
		sub := openSub(b, target(dir, "group=bench"))
		st, err := sub.(adapters.StreamSubscriber).Stream(context.Background(), tp, 256)
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close(context.Background())
		pub := openPub(b, u)
		ap := pub.(adapters.AsyncPublisher)
		if err := pub.Publish(tp, herald.NewMessage(payload)); err != nil {
			b.Fatal(err)
		}
		buf := make([]adapters.Delivery, 64)
		got := 0
		for got < 1 {
			n, err := st.Receive(context.Background(), buf)
			if err != nil {
				b.Fatal(err)
			}
			for _, d := range buf[:n] {
				st.Ack(d)
			}
			got += n
		}
		errs := make(chan error, 1)
		done := func(err error) {
			if err != nil {
				select {
				case errs <- err:
				default:
				}
			}
		}
		b.ReportAllocs()
		b.SetBytes(natsxtest.PayloadSize)
		b.ResetTimer()
		go func() {
			for range b.N {
				if err := ap.PublishAsync(context.Background(), tp, herald.NewMessage(payload), done); err != nil {
					errs <- err
					return
				}
			}
		}()
		for got = 0; got < b.N; {
			n, err := st.Receive(context.Background(), buf)
			if err != nil {
				b.Fatal(err)
			}
			for _, d := range buf[:n] {
				st.Ack(d)
			}
			got += n
			select {
			case err := <-errs:
				b.Fatal(err)
			default:
			}
		}
	})
	b.Run("nats.go", func(b *testing.B) {
		tp := topic()
		nc, err := nats.Connect("", nats.InProcessServer(srv))
		if err != nil {
			b.Fatal(err)
		}
		defer nc.Close()
		js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(256))
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		name := strings.NewReplacer(".", "_").Replace(tp)
		s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{tp}})
		if err != nil {
			b.Fatal(err)
		}
		c, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "bench", AckPolicy: jetstream.AckExplicitPolicy})
		if err != nil {
			b.Fatal(err)
		}
		it, err := c.Messages(jetstream.PullMaxMessages(256))
		if err != nil {
			b.Fatal(err)
		}
		defer it.Stop()
		b.ReportAllocs()
		b.SetBytes(natsxtest.PayloadSize)
		b.ResetTimer()
		go func() {
			for range b.N {
				if _, err := js.PublishAsync(tp, payload); err != nil {
					b.Error(err)
					return
				}
			}
		}()
		for range b.N {
			m, err := it.Next()
			if err != nil {
				b.Fatal(err)
			}
			_ = m.Ack()
		}
	})
}
