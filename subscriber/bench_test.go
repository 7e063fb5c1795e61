package subscriber_test

import (
	"context"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	_ "github.com/heraldkit/herald/adapters/kafka"
	_ "github.com/heraldkit/herald/adapters/nats"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// The benchmarks in this file measure the subscriber's path per message
// (Receive -> dispatch -> handler -> Ack) on mem://, with the messages
// published before the timer starts, and end to end (PublishAsync on one
// side, the handler on the other) on mem:// and on the brokers of
// HERALD_TEST_KAFKA and HERALD_TEST_NATS when set:
//
//	go test ./subscriber -run '^$' -bench . -benchtime 20000x -benchmem

var benchSeq atomic.Int64

// benchTopic is a topic name no other run used.
func benchTopic() string {
	return "bench" + strconv.FormatInt(time.Now().UnixNano(), 36) + strconv.FormatInt(benchSeq.Add(1), 10)
}

// consume subscribes with h counting to n and returns a func waiting for
// the n-th message.
func consume(b *testing.B, sub *subscriber.Subscriber, topic string, n int) (wait func()) {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var got atomic.Int64
	all := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- sub.Subscribe(ctx, topic, func(context.Context, *herald.Message) error {
			if got.Add(1) == int64(n) {
				close(all)
			}
			return nil
		})
	}()
	b.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			b.Error(err)
		}
	})
	return func() {
		select {
		case <-all:
		case err := <-errc:
			b.Fatalf("Subscribe returned %v after %d of %d", err, got.Load(), n)
		case <-time.After(2 * time.Minute):
			b.Fatalf("handled %d of %d", got.Load(), n)
		}
	}
}

func openPair(b *testing.B, url string) (*publisher.Publisher, *subscriber.Subscriber, <-chan string) {
	b.Helper()
	ready := make(chan string, 1)
	sub, err := subscriber.Open(context.Background(), url, subscriber.WithReady(func(t string) { ready <- t }))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = sub.Close() })
	pub, err := publisher.Open(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = pub.Close() })
	return pub, sub, ready
}

func publishAll(b *testing.B, pub *publisher.Publisher, topic string, n int) {
	b.Helper()
	payload := make([]byte, 1024)
	ctx := context.Background()
	fail := make(chan error, 1)
	done := func(_ *herald.Message, err error) {
		if err != nil {
			select {
			case fail <- err:
			default:
			}
		}
	}
	for range n {
		if err := pub.PublishAsync(ctx, topic, herald.NewMessage(payload), done); err != nil {
			b.Fatal(err)
		}
	}
	if err := pub.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	select {
	case err := <-fail:
		b.Fatal(err)
	default:
	}
}

// BenchmarkConsume: b.N 1 KiB messages waiting in a mem:// group are
// handled by a handler returning nil (acked).
func BenchmarkConsume(b *testing.B) {
	pub, sub, ready := openPair(b, "mem://bench?group=g&buffer="+strconv.Itoa(b.N+64))
	topic := benchTopic()
	if err := sub.Prepare(context.Background(), topic); err != nil {
		b.Fatal(err)
	}
	// A mem group exists once a stream of it was open: open one, publish,
	// then time the handling.
	wait := consumeAfter(b, sub, topic, b.N, ready, func() { publishAll(b, pub, topic, b.N) })
	wait()
}

// consumeAfter publishes with pre while the subscription's handler holds
// back, then starts the timer and releases it.
func consumeAfter(b *testing.B, sub *subscriber.Subscriber, topic string, n int, ready <-chan string, pre func()) (wait func()) {
	b.Helper()
	gate := make(chan struct{})
	var got atomic.Int64
	all := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- sub.Subscribe(ctx, topic, func(context.Context, *herald.Message) error {
			<-gate
			if got.Add(1) == int64(n) {
				close(all)
			}
			return nil
		})
	}()
	b.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			b.Error(err)
		}
	})
	<-ready
	pre()
	b.ReportAllocs()
	b.ResetTimer()
	close(gate)
	return func() {
		select {
		case <-all:
		case err := <-errc:
			b.Fatalf("Subscribe returned %v after %d of %d", err, got.Load(), n)
		case <-time.After(2 * time.Minute):
			b.Fatalf("handled %d of %d", got.Load(), n)
		}
		b.StopTimer()
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
	}
}

// BenchmarkEndToEnd: PublishAsync of b.N 1 KiB messages (default async
// window) while a subscriber (default window) handles them; allocations
// count both sides and the client libraries.
func BenchmarkEndToEnd(b *testing.B) {
	for _, tc := range []struct{ name, env, url string }{
		{"mem", "", "mem://bench"},
		{"kafka", "HERALD_TEST_KAFKA", ""},
		{"nats", "HERALD_TEST_NATS", ""},
	} {
		b.Run(tc.name, func(b *testing.B) {
			url := tc.url
			if tc.env != "" {
				if url = os.Getenv(tc.env); url == "" {
					b.Skip(tc.env + " is not set")
				}
			}
			url += "?group=" + benchTopic()
			if tc.name == "mem" {
				url = "mem://bench?group=g"
			}
			pub, sub, ready := openPair(b, url)
			topic := benchTopic()
			if err := sub.Prepare(context.Background(), topic); err != nil {
				b.Fatal(err)
			}
			wait := consume(b, sub, topic, b.N)
			<-ready
			b.ReportAllocs()
			b.ResetTimer()
			publishAll(b, pub, topic, b.N)
			wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
