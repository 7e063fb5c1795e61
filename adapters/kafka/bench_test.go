package kafka

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// The benchmarks in this file are driver-only: they call the Topic and
// the Stream directly, bypassing the publisher and subscriber packages
// (the bench module measures those, beside the native clients). They
// count allocations per message of the data path:
//
//	HERALD_TEST_KAFKA=kafka://127.0.0.1:9092 go test ./adapters/kafka \
//	  -run '^$' -bench 'Driver' -benchtime 5000x -benchmem

// benchTopic opens a Topic and sends one record to a new topic (created).
func benchTopic(b *testing.B, opts ...kgo.Opt) (*topic, string) {
	tp := openTopic(b, brokerURL(b), func(s *settings) { s.extra = opts })
	name := uniqueName("driverbench")
	sendSync(b, tp, name, herald.NewMessage([]byte("warm-up")))
	return tp, name
}

// BenchmarkDriverSend: Send of 1 KiB messages from one goroutine, each
// with a deadline, then a wait for every done.
func BenchmarkDriverSend(b *testing.B) {
	tp, name := benchTopic(b)
	payload := make([]byte, 1024)
	var wg sync.WaitGroup
	done := func(err error) {
		if err != nil {
			b.Error(err)
		}
		wg.Done()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		wg.Add(1)
		if err := tp.Send(ctx, name, herald.NewMessage(payload), adapters.SendOptions{}, done); err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
}

// BenchmarkDriverSend16: 16 goroutines each sending one 1 KiB message and
// waiting for its done, without linger (the driver's setting) and with
// franz-go's default linger of 10 ms.
func BenchmarkDriverSend16(b *testing.B) {
	for _, c := range []struct {
		name string
		opts []kgo.Opt
	}{{"linger=0", nil}, {"linger=10ms", []kgo.Opt{kgo.ProducerLinger(10 * time.Millisecond)}}} {
		b.Run(c.name, func(b *testing.B) {
			tp, name := benchTopic(b, c.opts...)
			payload := make([]byte, 1024)
			b.ReportAllocs()
			b.SetParallelism(8) // 8 x GOMAXPROCS (2 here): 16 goroutines
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					err := sendOne(ctx, tp, name, herald.NewMessage(payload))
					cancel()
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkDriverStream: a group stream (window 256) drains b.N 1 KiB
// records sent beforehand, acking each.
func BenchmarkDriverStream(b *testing.B) {
	tp, name := benchTopic(b)
	payload := make([]byte, 1024)
	msgs := make([]*herald.Message, b.N)
	for i := range msgs {
		msgs[i] = herald.NewMessage(payload)
	}
	sendSync(b, tp, name, msgs...)
	sub := openSubscription(b, withQuery(brokerURL(b), "group="+uniqueName("driverbench")))
	b.ReportAllocs()
	b.ResetTimer()
	st := openStream(b, sub, name, 256, nil)
	buf := make([]adapters.Received, 64)
	for got := 0; got < b.N+1; { // +1: the warm-up message
		n, err := st.Receive(context.Background(), buf)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range buf[:n] {
			st.Ack(r.Token)
		}
		got += n
	}
	b.StopTimer()
}
