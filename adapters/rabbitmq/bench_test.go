package rabbitmq

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	wamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
)

// BenchmarkRabbitMQ compares the Herald adapter with raw watermill-amqp in
// the same run, for 1 KiB messages:
//
//	publish      msgs/s of confirmed publishes (stock watermill: unconfirmed)
//	e2e          msgs/s from the first publish until the last message was
//	             handled and acked by consumers running meanwhile
//
// Sub-benchmark names: <impl>/<what>/p<publishers>[xb<batch>]/c<consumers>.
// "watermill-stock" is NewDurableQueueConfig as shipped (a channel per
// publish, no confirms, prefetch 1); "watermill-tuned" is watermill-amqp's
// Publisher and Subscriber with a pool of 16 channels, confirms and
// Herald's default prefetch. The "herald-prefetch=" and "herald-pool=" cases
// measure the settings behind the defaults.
//
//	HERALD_TEST_AMQP=amqp://guest:guest@127.0.0.1:5672/ \
//	  go test ./adapters/rabbitmq -run '^$' -bench RabbitMQ -benchtime 4000x
//
// Adapter-only: it drives the adapter's Watermill publisher and
// subscriber directly, bypassing the publisher and subscriber packages;
// Herald as users run it, beside the native clients, is measured by
// bench/ (make bench-compare).
func BenchmarkRabbitMQ(b *testing.B) {
	url := brokerURL(b)
	payload := make([]byte, 1024)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}

	herald := func(query string) impl {
		return impl{
			pub: func(b *testing.B) message.Publisher { return openPub(b, withQuery(url, query)) },
			sub: func(b *testing.B) message.Subscriber {
				return openSub(b, withQuery(url, withQuery("group=bench", query)))
			},
			queue: func(topic string) string { return queueName(topic, "bench", "") },
		}
	}
	wm := func(cfg func(string) wamqp.Config) impl {
		return impl{
			pub: func(b *testing.B) message.Publisher {
				p, err := wamqp.NewPublisher(cfg(url), nopLogger)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = p.Close() })
				return p
			},
			sub: func(b *testing.B) message.Subscriber {
				s, err := wamqp.NewSubscriber(cfg(url), nopLogger)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = s.Close() })
				return s
			},
			queue: func(topic string) string { return topic },
		}
	}
	stock := wm(wamqp.NewDurableQueueConfig)
	tuned := wm(func(u string) wamqp.Config {
		c := wamqp.NewDurableQueueConfig(u)
		c.Publish.ChannelPoolSize = 16 // it holds a channel per Publish until confirmed
		c.Publish.ConfirmDelivery = true
		c.Consume.Qos.PrefetchCount = defaultPrefetch
		return c
	})

	type scenario struct {
		what             string
		pubs, batch, con int
	}
	main := []scenario{
		{"publish", 1, 1, 0},
		{"publish", 16, 1, 0},
		{"publish", 1, 100, 0},
		{"consume", 4, 100, 1},
		{"consume", 4, 100, 4},
		{"e2e", 1, 1, 1},
		{"e2e", 16, 1, 4},
		{"e2e", 4, 100, 4},
	}
	for _, sc := range main {
		for _, c := range []struct {
			name string
			impl impl
		}{{"herald", herald("")}, {"watermill-stock", stock}, {"watermill-tuned", tuned}} {
			b.Run(fmt.Sprintf("%s/%s/%s", c.name, sc.what, shape(sc.pubs, sc.batch, sc.con)), func(b *testing.B) {
				runBench(b, c.impl, payload, sc.what, sc.pubs, sc.batch, sc.con)
			})
		}
	}
	// Settings behind the defaults.
	// Prefetch matters with network latency, which loopback lacks: the
	// "consume-wan" cases consume through a proxy that delays each
	// direction (an AMQP round trip measured 2.4ms through it on the
	// development machine, 0.11ms direct).
	for _, prefetch := range []int{1, 16, 64, 128, 256} {
		for _, con := range []int{1, 4} {
			b.Run(fmt.Sprintf("herald-prefetch=%d/consume/%s", prefetch, shape(4, 100, con)), func(b *testing.B) {
				runBench(b, herald(fmt.Sprintf("prefetch=%d", prefetch)), payload, "consume", 4, 100, con)
			})
			b.Run(fmt.Sprintf("herald-prefetch=%d/consume-wan/%s", prefetch, shape(4, 100, con)), func(b *testing.B) {
				im := herald(fmt.Sprintf("prefetch=%d", prefetch))
				slow := withLatency(b, url, 500*time.Microsecond)
				im.sub = func(b *testing.B) message.Subscriber {
					return openSub(b, withQuery(slow, fmt.Sprintf("group=bench&prefetch=%d", prefetch)))
				}
				runBench(b, im, payload, "consume", 4, 100, con)
			})
		}
	}
	for _, pool := range []int{1, 2, 4, 8} {
		for _, pubs := range []int{16, 64} {
			b.Run(fmt.Sprintf("herald-pool=%d/publish/%s", pool, shape(pubs, 1, 0)), func(b *testing.B) {
				runBench(b, herald(fmt.Sprintf("pool=%d", pool)), payload, "publish", pubs, 1, 0)
			})
		}
	}
}

type impl struct {
	pub   func(*testing.B) message.Publisher
	sub   func(*testing.B) message.Subscriber
	queue func(topic string) string // the queue sub consumes
}

func shape(pubs, batch, con int) string {
	s := fmt.Sprintf("p%d", pubs)
	if batch > 1 {
		s += fmt.Sprintf("xb%d", batch)
	}
	return s + fmt.Sprintf("/c%d", con)
}

// runBench runs one case and reports msgs/s:
//
//	publish  pubs goroutines publish b.N messages, batch per Publish call,
//	         into a queue nobody consumes (so they are stored)
//	e2e      the same while con consumers (Subscribe calls on one
//	         subscriber) ack them; timed until the last one was acked
//	consume  b.N messages are published first (untimed); then con
//	         consumers start and ack them all
func runBench(b *testing.B, im impl, payload []byte, what string, pubs, batch, con int) {
	topic := freshTopic(b)
	pub := im.pub(b)
	sub := im.sub(b)
	b.Cleanup(func() { deleteTopology(b, topic, im.queue(topic)) })
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	total := int64(b.N)

	// Declare the exchange and queue outside the timed part: the warm-up
	// message is consumed like the others.
	if err := sub.(message.SubscribeInitializer).SubscribeInitialize(topic); err != nil {
		b.Fatal(err)
	}
	if err := pub.Publish(topic, herald.NewMessage(payload)); err != nil {
		b.Fatal(err)
	}

	var got atomic.Int64
	all := make(chan struct{})
	consume := func() {
		for range con {
			ch, err := sub.Subscribe(ctx, topic)
			if err != nil {
				b.Fatal(err)
			}
			go func() {
				for m := range ch {
					m.Ack()
					if got.Add(1) == total+1 {
						close(all)
					}
				}
			}()
		}
	}
	publish := func() {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range pubs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				msgs := make([]*message.Message, 0, batch)
				for {
					first := next.Add(int64(batch)) - int64(batch)
					if first >= total {
						return
					}
					msgs = msgs[:0]
					for i := first; i < min(first+int64(batch), total); i++ {
						msgs = append(msgs, herald.NewMessage(payload))
					}
					if err := pub.Publish(topic, msgs...); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	waitAll := func() {
		select {
		case <-all:
		case <-time.After(3 * time.Minute):
			b.Fatalf("consumed %d of %d", got.Load(), total+1)
		}
	}

	var start time.Time
	switch what {
	case "publish":
		b.ResetTimer()
		start = time.Now()
		publish()
	case "e2e":
		consume()
		time.Sleep(200 * time.Millisecond)
		b.ResetTimer()
		start = time.Now()
		publish()
		waitAll()
	case "consume":
		publish()
		b.ResetTimer()
		start = time.Now()
		consume()
		waitAll()
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(total)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(0, "ns/op")
}
