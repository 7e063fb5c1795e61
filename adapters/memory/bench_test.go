package memory_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// BenchmarkEndToEnd publishes b.N 1 KiB messages and waits until all were
// handled: Herald's facade on mem:// beside raw Watermill gochannel.
func BenchmarkEndToEnd(b *testing.B) {
	payload := make([]byte, 1024)
	b.Run("herald-mem", func(b *testing.B) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ready := make(chan string, 1)
		sub, err := subscriber.Open(ctx, "mem://bench", subscriber.WithReady(func(s string) { ready <- s }))
		if err != nil {
			b.Fatal(err)
		}
		defer sub.Close()
		pub, err := publisher.Open(ctx, "mem://bench")
		if err != nil {
			b.Fatal(err)
		}
		defer pub.Close()
		var n atomic.Int64
		done := make(chan struct{})
		target := int64(b.N)
		go sub.Subscribe(ctx, "bench", func(context.Context, *herald.Message) error {
			if n.Add(1) == target {
				close(done)
			}
			return nil
		})
		<-ready
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := pub.Publish(ctx, "bench", herald.NewMessage(payload)); err != nil {
				b.Fatal(err)
			}
		}
		<-done
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
	b.Run("watermill-gochannel", func(b *testing.B) {
		gc := gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{})
		defer gc.Close()
		ch, err := gc.Subscribe(context.Background(), "bench")
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			for i := 0; i < b.N; i++ {
				(<-ch).Ack()
			}
			close(done)
		}()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := gc.Publish("bench", message.NewMessage(watermill.NewULID(), payload)); err != nil {
				b.Fatal(err)
			}
		}
		<-done
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
}
