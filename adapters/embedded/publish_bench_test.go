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

// BenchmarkPublishContext16 measures the adapter-only synchronous path
// (no facade): 16 goroutines each calling PublishContext with one 1 KiB
// message, beside nats.go's synchronous js.PublishMsg with 16 goroutines
// on the same in-process server.
//
//	go test ./adapters/embedded -run '^$' -bench PublishContext16 -benchtime 5000x
func BenchmarkPublishContext16(b *testing.B) {
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
		pub := openPub(b, u)
		cp := pub.(adapters.ContextPublisher)
		if err := pub.Publish(tp, herald.NewMessage(payload)); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.SetBytes(natsxtest.PayloadSize)
		b.SetParallelism(8)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := cp.PublishContext(context.Background(), tp, herald.NewMessage(payload)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("nats.go", func(b *testing.B) {
		tp := topic()
		nc, err := nats.Connect("", nats.InProcessServer(srv))
		if err != nil {
			b.Fatal(err)
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: strings.NewReplacer(".", "_").Replace(tp), Subjects: []string{tp}}); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.SetBytes(natsxtest.PayloadSize)
		b.SetParallelism(8)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := js.PublishMsg(context.Background(), &nats.Msg{Subject: tp, Data: payload}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
