// Package natsxtest holds the benchmarks the nats and embedded adapters
// share (publish and end-to-end throughput of 1 KiB messages through any
// Watermill publisher and subscriber, so Herald and stock watermill-nats
// are measured the same way in the same run), and the checks of the fast
// paths (adapters.Stream, adapters.AsyncPublisher) that the nats,
// embedded and memory adapters run against their backends.
package natsxtest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
)

// PayloadSize is the size of every benchmark message.
const PayloadSize = 1024

// Target opens fresh publishers and subscribers.
type Target struct {
	// Publisher and Subscriber open the sides; the benchmark closes them.
	Publisher  func(b *testing.B) message.Publisher
	Subscriber func(b *testing.B) message.Subscriber
	// Topic returns a fresh topic name.
	Topic func() string
}

var seq atomic.Int64

// Topic returns a fresh topic name with only letters, digits and '_'
// (stock watermill-nats names streams after topics).
func Topic(prefix string) string {
	return fmt.Sprintf("%s_%d_%d", prefix, time.Now().UnixNano(), seq.Add(1))
}

func batchOf(n int) []*message.Message {
	payload := make([]byte, PayloadSize)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	out := make([]*message.Message, n)
	for i := range out {
		out[i] = herald.NewMessage(payload)
	}
	return out
}

// publish sends n messages in Publish calls of batch messages.
func publish(b *testing.B, p message.Publisher, topic string, n, batch int) {
	for sent := 0; sent < n; sent += batch {
		k := min(batch, n-sent)
		if err := p.Publish(topic, batchOf(k)...); err != nil {
			b.Fatalf("publish: %v", err)
		}
	}
}

// Publish measures publishing b.N messages, batch per Publish call, and
// reports msg/s.
func Publish(b *testing.B, t Target, batch int) {
	p := t.Publisher(b)
	defer p.Close()
	topic := t.Topic()
	publish(b, p, topic, 1, 1) // provisions the stream outside the timing
	b.SetBytes(PayloadSize)
	b.ResetTimer()
	start := time.Now()
	publish(b, p, topic, b.N, batch)
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msg/s")
}

// EndToEnd measures b.N messages from the first Publish to the last ack
// by one Subscribe call, and reports msg/s.
func EndToEnd(b *testing.B, t Target, batch int) {
	topic := t.Topic()
	s := t.Subscriber(b)
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if si, ok := s.(message.SubscribeInitializer); ok {
		if err := si.SubscribeInitialize(topic); err != nil {
			b.Fatalf("subscribe initialize: %v", err)
		}
	}
	ch, err := s.Subscribe(ctx, topic)
	if err != nil {
		b.Fatalf("subscribe: %v", err)
	}
	p := t.Publisher(b)
	defer p.Close()
	b.SetBytes(PayloadSize)
	b.ResetTimer()
	start := time.Now()
	errc := make(chan error, 1)
	go func() {
		for sent := 0; sent < b.N; sent += batch {
			if err := p.Publish(topic, batchOf(min(batch, b.N-sent))...); err != nil {
				errc <- err
				return
			}
		}
	}()
	timeout := time.After(5 * time.Minute)
	for got := 0; got < b.N; got++ {
		select {
		case m := <-ch:
			m.Ack()
		case err := <-errc:
			b.Fatalf("publish: %v", err)
		case <-timeout:
			b.Fatalf("received %d of %d", got, b.N)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msg/s")
}
