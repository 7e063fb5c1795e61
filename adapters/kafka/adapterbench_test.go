package kafka

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/adaptertest"
)

// The benchmarks in this file are adapter-only: they call the Publisher
// and the Stream directly, bypassing Herald's publisher and subscriber
// packages (the bench module measures those). They count allocations per
// message of the fast paths:
//
//	HERALD_TEST_KAFKA=kafka://127.0.0.1:9092 go test ./adapters/kafka \
//	  -run '^$' -bench 'Adapter' -benchtime 5000x -benchmem

func benchSettings(b *testing.B, opts ...kgo.Opt) settings {
	target := adaptertest.BrokerURL(b, "HERALD_TEST_KAFKA")
	cfg, err := herald.ParseURL(target)
	if err != nil {
		b.Fatal(err)
	}
	s, err := parse(cfg)
	if err != nil {
		b.Fatal(err)
	}
	s.extra = opts
	return s
}

func benchPublisher(b *testing.B, opts ...kgo.Opt) (*Publisher, string) {
	p, err := newPublisher(context.Background(), benchSettings(b, opts...))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Close() })
	topic := "adapterbench." + herald.NewMessage(nil).UUID
	if err := p.PublishContext(context.Background(), topic, herald.NewMessage([]byte("warm-up"))); err != nil {
		b.Fatal(err)
	}
	return p, topic
}

// BenchmarkAdapterPublishAsync: PublishAsync of 1 KiB messages from one
// goroutine, then a wait for every done.
func BenchmarkAdapterPublishAsync(b *testing.B) {
	p, topic := benchPublisher(b)
	payload := make([]byte, 1024)
	var wg sync.WaitGroup
	done := func(err error) {
		if err != nil {
			b.Error(err)
		}
		wg.Done()
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		wg.Add(1)
		if err := p.PublishAsync(ctx, topic, herald.NewMessage(payload), done); err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
}

// BenchmarkAdapterPublishContext16: 16 goroutines each calling
// PublishContext with one 1 KiB message, without linger (the publisher's
// setting) and with franz-go's default linger of 10 ms.
func BenchmarkAdapterPublishContext16(b *testing.B) {
	for _, c := range []struct {
		name string
		opts []kgo.Opt
	}{{"linger=0", nil}, {"linger=10ms", []kgo.Opt{kgo.ProducerLinger(10 * time.Millisecond)}}} {
		b.Run(c.name, func(b *testing.B) {
			p, topic := benchPublisher(b, c.opts...)
			payload := make([]byte, 1024)
			b.ReportAllocs()
			b.SetParallelism(8) // 8 x GOMAXPROCS (2 here): 16 goroutines
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := p.PublishContext(context.Background(), topic, herald.NewMessage(payload)); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkAdapterStream: a group Stream (window 256) drains b.N 1 KiB
// records published beforehand, acking each.
func BenchmarkAdapterStream(b *testing.B) {
	p, topic := benchPublisher(b)
	payload := make([]byte, 1024)
	var wg sync.WaitGroup
	wg.Add(b.N)
	for i := 0; i < b.N; i++ {
		if err := p.PublishAsync(context.Background(), topic, herald.NewMessage(payload), func(error) { wg.Done() }); err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
	s := benchSettings(b)
	s.group = "adapterbench." + herald.NewMessage(nil).UUID
	s.initialOffset = offsetOldest
	sub, err := newSubscriber(context.Background(), s)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = sub.Close() })
	b.ReportAllocs()
	b.ResetTimer()
	st, err := sub.Stream(context.Background(), topic, 256)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]adapters.Delivery, 64)
	for got := 0; got < b.N+1; { // +1: the warm-up message
		n, err := st.Receive(context.Background(), buf)
		if err != nil {
			b.Fatal(err)
		}
		for _, d := range buf[:n] {
			st.Ack(d)
		}
		got += n
	}
	b.StopTimer()
	_ = st.Close(context.Background())
}
