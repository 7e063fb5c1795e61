package publisher_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	_ "github.com/heraldkit/herald/adapters/memory"
	"github.com/heraldkit/herald/publisher"
)

// The benchmarks in this file measure what the publisher adds per
// message between the caller and the driver, on nullDriver (a Topic that
// answers every Send at once: the facade alone) and on mem:// with no
// subscriber. Messages are made before the timer starts, so the figures
// are the facade's (and the driver's), not NewMessage's:
//
//	go test ./publisher -run '^$' -bench . -benchtime 20000x -benchmem

// nullDriver's Topic answers every message at once, from the caller's
// goroutine.
type nullDriver struct{}

func init() { adapters.Register("null-test", nullDriver{}) }

func (nullDriver) Validate(herald.Config) error { return nil }
func (nullDriver) Capabilities(herald.Config) adapters.Capabilities {
	return adapters.Capabilities{Redelivery: adapters.RedeliverLocal}
}
func (nullDriver) OpenTopic(context.Context, herald.Config, adapters.Env) (adapters.Topic, error) {
	return nullTopic{}, nil
}
func (nullDriver) OpenSubscription(context.Context, herald.Config, adapters.Env) (adapters.Subscription, error) {
	return nil, errors.New("no subscriptions")
}

type nullTopic struct{}

func (nullTopic) Send(_ context.Context, _ string, _ *herald.Message, _ adapters.SendOptions, done func(error)) error {
	done(nil)
	return nil
}
func (nullTopic) Close(context.Context) error { return nil }
func (nullTopic) As(any) bool                 { return false }

func benchPublisher(b testing.TB, target string) *publisher.Publisher {
	b.Helper()
	p, err := publisher.Open(context.Background(), target)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Close() })
	return p
}

func benchMessages(n int) []*herald.Message {
	payload := make([]byte, 1024)
	msgs := make([]*herald.Message, n)
	for i := range msgs {
		msgs[i] = herald.NewMessage(payload)
	}
	return msgs
}

var benchTargets = []struct{ name, url string }{{"null", "null-test://bench"}, {"mem", "mem://bench"}}

// BenchmarkPublishAsync: PublishAsync of b.N messages, no middleware,
// then Flush.
func BenchmarkPublishAsync(b *testing.B) {
	for _, tc := range benchTargets {
		b.Run(tc.name, func(b *testing.B) {
			p := benchPublisher(b, tc.url)
			msgs := benchMessages(b.N)
			ctx := context.Background()
			done := func(_ *herald.Message, err error) {
				if err != nil {
					b.Error(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for _, m := range msgs {
				if err := p.PublishAsync(ctx, "bench", m, done); err != nil {
					b.Fatal(err)
				}
			}
			if err := p.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkPublish: Publish of one message at a time, no middleware,
// with a context without a deadline (the publish timeout applies) and
// with one.
func BenchmarkPublish(b *testing.B) {
	for _, tc := range benchTargets {
		for _, dl := range []string{"background", "cancel", "deadline"} {
			b.Run(tc.name+"/"+dl, func(b *testing.B) {
				p := benchPublisher(b, tc.url)
				msgs := benchMessages(b.N)
				ctx := context.Background()
				switch dl {
				case "cancel":
					var cancel context.CancelFunc
					ctx, cancel = context.WithCancel(ctx)
					defer cancel()
				case "deadline":
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, 1<<40)
					defer cancel()
				}
				b.ReportAllocs()
				b.ResetTimer()
				for _, m := range msgs {
					if err := p.Publish(ctx, "bench", m); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkPublish16: 16 goroutines calling Publish, one message each.
func BenchmarkPublish16(b *testing.B) {
	p := benchPublisher(b, "null-test://bench16")
	payload := make([]byte, 1024)
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	var once sync.Once
	b.RunParallel(func(pb *testing.PB) {
		m := herald.NewMessage(payload)
		for pb.Next() {
			if err := p.Publish(context.Background(), "bench", m); err != nil {
				once.Do(func() { b.Error(err) })
				return
			}
		}
	})
}

func (nullDriver) OpenRequester(context.Context, herald.Config, adapters.Env) (adapters.Requester, error) {
	return nil, errors.New("no requester")
}
