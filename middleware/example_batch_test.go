package middleware_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/heraldkit/herald"
	_ "github.com/heraldkit/herald/adapters/memory"
	"github.com/heraldkit/herald/middleware"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// Batch middleware for SubscribeBatch: a message the batch handler marks
// for dead-lettering is parked on "{topic}.dlq" in DeadLetter's format,
// and acked; the others are handled.
func ExampleBatchDeadLetter() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	const target = "mem://example-batch-dlq"
	pub, err := publisher.Open(ctx, target)
	if err != nil {
		panic(err)
	}
	defer pub.Close()
	ready := make(chan string, 2)
	dlqSub, err := subscriber.Open(ctx, target, subscriber.WithReady(func(t string) { ready <- t }))
	if err != nil {
		panic(err)
	}
	defer dlqSub.Close()
	parked := make(chan *herald.Message, 1)
	go dlqSub.Subscribe(ctx, "events.dlq", func(_ context.Context, m *herald.Message) error { parked <- m; return nil })
	sub, err := subscriber.Open(ctx, target, subscriber.WithReady(func(t string) { ready <- t }))
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	go sub.SubscribeBatch(ctx, "events", func(_ context.Context, b *herald.Batch) error {
		for i, m := range b.Messages {
			if string(m.Payload) == "???" {
				b.DeadLetter(i, herald.Permanent(errors.New("not an event")))
			}
		}
		return nil
	}, subscriber.BatchMiddleware(middleware.BatchRecover(), middleware.BatchDeadLetter(pub, "{topic}.dlq")))
	<-ready
	<-ready
	if err := pub.Publish(ctx, "events", herald.NewMessage([]byte("click")), herald.NewMessage([]byte("???"))); err != nil {
		panic(err)
	}
	m := <-parked
	fmt.Printf("parked %q from %s: %s (%s)\n", m.Payload, m.Metadata.Get(middleware.DLQTopicHeader),
		m.Metadata.Get(middleware.DLQErrorHeader), m.Metadata.Get(middleware.DLQReasonHeader))
	// Output:
	// parked "???" from events: not an event (permanent)
}
