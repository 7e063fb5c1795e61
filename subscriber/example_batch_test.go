package subscriber_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/heraldkit/herald"
	_ "github.com/heraldkit/herald/adapters/memory"
	"github.com/heraldkit/herald/middleware"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// A batch handler gets up to BatchSize messages (or what arrived within
// BatchWait) and sets a result per message: here the valid rows are
// written in one go, an invalid one is dead-lettered, and the first
// attempt at "row-3" asks for a retry, which comes back in a batch of
// its own.
func ExampleSubscriber_SubscribeBatch() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	sub, err := subscriber.Open(ctx, "mem://example-batch", subscriber.WithGroup("loader"),
		subscriber.WithReady(func(topic string) { ready <- topic }))
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	pub, err := publisher.Open(ctx, "mem://example-batch")
	if err != nil {
		panic(err)
	}
	defer pub.Close()

	done := make(chan struct{})
	retried := false
	go sub.SubscribeBatch(ctx, "rows", func(ctx context.Context, b *herald.Batch) error {
		var wrote []string
		for i, m := range b.Messages {
			switch p := string(m.Payload); {
			case p == "garbage":
				b.DeadLetter(i, herald.Permanent(errors.New("not a row")))
			case p == "row-3" && !retried:
				retried = true
				b.Retry(i, herald.RetryAfter(errors.New("lock timeout"), 10*time.Millisecond))
			default:
				wrote = append(wrote, p) // e.g. one multi-row INSERT
			}
		}
		fmt.Printf("batch of %d: wrote %s\n", b.Len(), strings.Join(wrote, " "))
		if retried && len(wrote) == 1 && wrote[0] == "row-3" {
			close(done)
		}
		return nil // a returned error (or a panic) retries the whole batch
	}, subscriber.BatchSize(10), subscriber.BatchWait(50*time.Millisecond),
		subscriber.BatchMiddleware(middleware.BatchRecover(), middleware.BatchDeadLetter(pub, "{topic}.dlq")))
	<-ready
	var msgs []*herald.Message
	for _, p := range []string{"row-1", "row-2", "garbage", "row-3", "row-4"} {
		msgs = append(msgs, herald.NewMessage([]byte(p)))
	}
	if err := pub.Publish(ctx, "rows", msgs...); err != nil {
		panic(err)
	}
	<-done
	// Output:
	// batch of 5: wrote row-1 row-2 row-4
	// batch of 1: wrote row-3
}
