package rabbitmq

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// Adapter-only benchmarks (they bypass the publisher and subscriber
// packages) of the allocations per message on the fast paths, 1 KiB
// messages; allocations count every goroutine, amqp091's reader and
// writer included:
//
//	HERALD_TEST_AMQP=amqp://guest:guest@127.0.0.1:5672/ \
//	  go test ./adapters/rabbitmq -run '^$' -bench 'Path' -benchtime 5000x

// BenchmarkStreamPath receives b.N messages published beforehand
// through a Stream with window 256 and acks each.
func BenchmarkStreamPath(b *testing.B) {
	url := brokerURL(b)
	topic := freshTopic(b)
	b.Cleanup(func() { deleteTopology(b, topic, queueName(topic, "bench", "")) })
	pub := openPub(b, url)
	sub := openSub(b, withQuery(url, "group=bench"))
	if err := sub.(interface{ SubscribeInitialize(string) error }).SubscribeInitialize(topic); err != nil {
		b.Fatal(err)
	}
	publishAsyncN(b, pub.(adapters.AsyncPublisher), topic, b.N)
	st, err := sub.(adapters.StreamSubscriber).Stream(b.Context(), topic, 256)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close(context.Background())
	buf := make([]adapters.Delivery, 64)
	ctx, cancel := context.WithTimeout(b.Context(), 2*time.Minute)
	defer cancel()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for got := 0; got < b.N; {
		n, err := st.Receive(ctx, buf)
		if err != nil {
			b.Fatalf("received %d of %d: %v", got, b.N, err)
		}
		for _, d := range buf[:n] {
			st.Ack(d)
		}
		got += n
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkPublishAsyncPath publishes b.N messages with PublishAsync
// (window 256) and waits for every confirm; creating the messages is
// part of it.
func BenchmarkPublishAsyncPath(b *testing.B) {
	url := brokerURL(b)
	topic := freshTopic(b)
	b.Cleanup(func() { deleteTopology(b, topic, queueName(topic, "bench", "")) })
	pub := openPub(b, url)
	sub := openSub(b, withQuery(url, "group=bench"))
	if err := sub.(interface{ SubscribeInitialize(string) error }).SubscribeInitialize(topic); err != nil {
		b.Fatal(err)
	}
	warm := herald.NewMessage([]byte("warm"))
	if err := pub.Publish(topic, warm, warm); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	publishAsyncN(b, pub.(adapters.AsyncPublisher), topic, b.N)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// publishAsyncN publishes n 1 KiB messages with PublishAsync and waits
// until all are confirmed.
func publishAsyncN(b *testing.B, ap adapters.AsyncPublisher, topic string, n int) {
	payload := make([]byte, 1024)
	var left atomic.Int64
	left.Store(int64(n))
	all := make(chan struct{})
	var failed atomic.Value
	done := func(err error) {
		if err != nil {
			failed.Store(err)
		}
		if left.Add(-1) == 0 {
			close(all)
		}
	}
	ctx, cancel := context.WithTimeout(b.Context(), 2*time.Minute)
	defer cancel()
	for range n {
		if err := ap.PublishAsync(ctx, topic, herald.NewMessage(payload), done); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-all:
	case <-ctx.Done():
		b.Fatalf("%d of %d unconfirmed", left.Load(), n)
	}
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPublishContextPath publishes b.N messages with PublishContext
// from 16 goroutines, one message per call (Herald's synchronous Publish).
func BenchmarkPublishContextPath(b *testing.B) {
	url := brokerURL(b)
	topic := freshTopic(b)
	b.Cleanup(func() { deleteTopology(b, topic, queueName(topic, "bench", "")) })
	pub := openPub(b, url)
	sub := openSub(b, withQuery(url, "group=bench"))
	if err := sub.(interface{ SubscribeInitialize(string) error }).SubscribeInitialize(topic); err != nil {
		b.Fatal(err)
	}
	cp := pub.(adapters.ContextPublisher)
	payload := make([]byte, 1024)
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if err := cp.PublishContext(b.Context(), topic, herald.NewMessage(payload)); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}
