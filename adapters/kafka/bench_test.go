package kafka_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	wmkafka "github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
)

// BenchmarkKafka compares the Herald adapter with raw watermill-kafka in
// its stock configuration (DefaultSaramaSyncPublisherConfig, the default
// subscriber config, topics auto-created by the broker) in the same run,
// for 1 KiB messages, at the Watermill interface:
//
//	publish       msg/s of acknowledged publishes, one goroutine
//	publish-8     the same with 8 goroutines on one publisher
//	e2e           msg/s from the first publish (8 goroutines) until a
//	              group subscriber (one Subscribe call, acking each
//	              message) has received them all
//
// "herald-partitions=1" is Herald with watermill-kafka's partition count,
// to tell the partitioning apart from the rest.
//
// Each case deletes its topic when done, so that repeated runs do not pile
// partitions up on the broker.
//
//	HERALD_TEST_KAFKA=kafka://127.0.0.1:9092 \
//	  go test ./adapters/kafka -run '^$' -bench 'Kafka$' -benchtime 5000x -count 3
//
// Adapter-only: it drives the adapter's Watermill publisher and
// subscriber directly, bypassing the publisher and subscriber packages;
// Herald as users run it, beside the native clients, is measured by
// bench/ (make bench-compare).
func BenchmarkKafka(b *testing.B) {
	target := brokerURL(b)
	type impl struct {
		name string
		pub  func(b *testing.B) message.Publisher
		sub  func(b *testing.B, group string) message.Subscriber
	}
	heraldImpl := func(name, query string) impl {
		return impl{
			name: name,
			pub:  func(b *testing.B) message.Publisher { return openPub(b, withQuery(target, query)) },
			sub: func(b *testing.B, group string) message.Subscriber {
				return openSub(b, withQuery(target, withQuery("group="+group, query)))
			},
		}
	}
	stock := impl{
		name: "watermill-stock",
		pub: func(b *testing.B) message.Publisher {
			p, err := wmkafka.NewPublisher(wmkafka.PublisherConfig{
				Brokers:               brokers(b, target),
				Marshaler:             wmkafka.DefaultMarshaler{},
				OverwriteSaramaConfig: wmkafka.DefaultSaramaSyncPublisherConfig(),
			}, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = p.Close() })
			return p
		},
		sub: func(b *testing.B, group string) message.Subscriber {
			s, err := wmkafka.NewSubscriber(wmkafka.SubscriberConfig{
				Brokers:       brokers(b, target),
				Unmarshaler:   wmkafka.DefaultMarshaler{},
				ConsumerGroup: group,
			}, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			return s
		},
	}
	payload := make([]byte, 1024)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	for _, im := range []impl{heraldImpl("herald", ""), heraldImpl("herald-partitions=1", "partitions=1"), stock} {
		b.Run(im.name+"/publish", func(b *testing.B) {
			topic := benchTopic(b, target)
			pub := im.pub(b)
			publishConcurrently(b, pub, topic, payload, warmup, 8) // creates and warms the topic
			b.ResetTimer()
			start := time.Now()
			publishConcurrently(b, pub, topic, payload, b.N, 1)
			reportRate(b, b.N, time.Since(start))
		})
		b.Run(im.name+"/publish-8", func(b *testing.B) {
			topic := benchTopic(b, target)
			pub := im.pub(b)
			publishConcurrently(b, pub, topic, payload, warmup, 8)
			b.ResetTimer()
			start := time.Now()
			publishConcurrently(b, pub, topic, payload, b.N, 8)
			reportRate(b, b.N, time.Since(start))
		})
		b.Run(im.name+"/e2e", func(b *testing.B) {
			topic := benchTopic(b, target)
			pub := im.pub(b)
			sub := im.sub(b, uniqueName("bench"))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ch, err := sub.Subscribe(ctx, topic)
			if err != nil {
				b.Fatal(err)
			}
			var warm, got atomic.Int64
			done := make(chan struct{})
			n := int64(b.N)
			go func() {
				for m := range ch {
					m.Ack()
					if m.Metadata.Get("bench") == "warm" {
						warm.Add(1)
					} else if got.Add(1) == n {
						close(done)
					}
				}
			}()
			// The stock subscriber starts at the newest offset once it has
			// joined, which Subscribe does not wait for: publish until a
			// message arrives.
			for deadline := time.Now().Add(60 * time.Second); warm.Load() == 0; {
				if time.Now().After(deadline) {
					b.Fatal("subscriber not receiving after 60s")
				}
				m := herald.NewMessage(payload)
				m.Metadata.Set("bench", "warm")
				publish(b, pub, topic, m)
				time.Sleep(200 * time.Millisecond)
			}
			warmed := warm.Load()
			for i := 0; i < warmup; i++ {
				m := herald.NewMessage(payload)
				m.Metadata.Set("bench", "warm")
				publish(b, pub, topic, m)
			}
			for deadline := time.Now().Add(60 * time.Second); warm.Load() < warmed+warmup; {
				if time.Now().After(deadline) {
					b.Fatal("warm-up messages not received after 60s")
				}
				time.Sleep(10 * time.Millisecond)
			}
			b.ResetTimer()
			start := time.Now()
			publishConcurrently(b, pub, topic, payload, b.N, 8)
			select {
			case <-done:
			case <-time.After(2 * time.Minute):
				b.Fatalf("received %d of %d messages", got.Load(), n)
			}
			reportRate(b, b.N, time.Since(start))
		})
	}
}

// BenchmarkKafkaConsume measures the consuming side alone, for the
// partitions trade-off: b.N records (1 KiB) are published first, then a
// group subscriber drains them.
//
//	drain   msg/s from the first record received to the last, one
//	        Subscribe call acking at once (a single fast consumer)
//	slow-6  msg/s with 6 Subscribe calls on one subscriber, each handler
//	        taking 5 ms per message (subscriber.WithConcurrency(6))
//
//	HERALD_TEST_KAFKA=kafka://127.0.0.1:9092 \
//	  go test ./adapters/kafka -run '^$' -bench KafkaConsume -benchtime 5000x -count 3
//
// Adapter-only: it drives the adapter's Watermill publisher and
// subscriber directly, bypassing the publisher and subscriber packages;
// Herald as users run it, beside the native clients, is measured by
// bench/ (make bench-compare).
func BenchmarkKafkaConsume(b *testing.B) {
	target := brokerURL(b)
	payload := make([]byte, 1024)
	stockSub := func(b *testing.B) message.Subscriber {
		conf := wmkafka.DefaultSaramaSubscriberConfig()
		conf.Consumer.Offsets.Initial = sarama.OffsetOldest
		s, err := wmkafka.NewSubscriber(wmkafka.SubscriberConfig{
			Brokers:               brokers(b, target),
			Unmarshaler:           wmkafka.DefaultMarshaler{},
			ConsumerGroup:         uniqueName("bench"),
			OverwriteSaramaConfig: conf,
		}, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = s.Close() })
		return s
	}
	cases := []struct {
		name, query string
		stock       bool // watermill-kafka's stock subscriber (on a 1-partition topic)
		handlers    int
		work        time.Duration
	}{
		{name: "herald/drain", handlers: 1},
		{name: "herald-partitions=1/drain", query: "partitions=1", handlers: 1},
		{name: "watermill-stock/drain", query: "partitions=1", stock: true, handlers: 1},
		{name: "herald/slow-6", handlers: 6, work: 5 * time.Millisecond},
		{name: "herald-partitions=1/slow-6", query: "partitions=1", handlers: 6, work: 5 * time.Millisecond},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			topic := benchTopic(b, target)
			publishConcurrently(b, openPub(b, withQuery(target, c.query)), topic, payload, b.N, 8)
			var sub message.Subscriber
			if c.stock {
				sub = stockSub(b)
			} else {
				sub = openSub(b, withQuery(target, withQuery("group="+uniqueName("bench"), c.query)))
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var got atomic.Int64
			var first atomic.Pointer[time.Time]
			done := make(chan struct{})
			for i := 0; i < c.handlers; i++ {
				ch, err := sub.Subscribe(ctx, topic)
				if err != nil {
					b.Fatal(err)
				}
				go func() {
					for m := range ch {
						now := time.Now()
						first.CompareAndSwap(nil, &now)
						time.Sleep(c.work)
						m.Ack()
						if got.Add(1) == int64(b.N) {
							close(done)
						}
					}
				}()
			}
			b.ResetTimer()
			select {
			case <-done:
			case <-time.After(2 * time.Minute):
				b.Fatalf("received %d of %d messages", got.Load(), b.N)
			}
			reportRate(b, b.N, time.Since(*first.Load()))
		})
	}
}

// benchTopic returns a new topic name and deletes the topic once the case
// is over (after its publishers and subscribers closed).
func benchTopic(b *testing.B, target string) string {
	topic := uniqueName("bench")
	b.Cleanup(func() {
		ca, err := sarama.NewClusterAdmin(brokers(b, target), sarama.NewConfig())
		if err != nil {
			return
		}
		defer func() { _ = ca.Close() }()
		_ = ca.DeleteTopic(topic) // best effort
	})
	return topic
}

// warmup is how many messages each case publishes before timing.
const warmup = 300

// publishConcurrently publishes n messages from workers goroutines.
func publishConcurrently(b *testing.B, pub message.Publisher, topic string, payload []byte, n, workers int) {
	var wg sync.WaitGroup
	var next atomic.Int64
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if err := pub.Publish(topic, herald.NewMessage(payload)); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func reportRate(b *testing.B, n int, d time.Duration) {
	b.StopTimer()
	b.ReportMetric(float64(n)/d.Seconds(), "msg/s")
}
