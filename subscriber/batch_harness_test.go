package subscriber_test

import (
	"context"
	"errors"
	"testing"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/heraldtest"
	"github.com/heraldkit/herald/middleware"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// A batch subscription runs on the test harness like on any backend, and
// BatchDeadLetter's copies are in DeadLetter's format: the harness, which
// recognizes dead-letter copies by their headers, records the original as
// dead-lettered for its group; Drain returns once the batch settled.
func TestBatchOnHarness(t *testing.T) {
	ctx := context.Background()
	h := heraldtest.New(t)
	pub, err := publisher.Open(ctx, h.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	sub, err := subscriber.Open(ctx, h.URL(), subscriber.WithGroup("loader"))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	go sub.SubscribeBatch(ctx, "rows", func(_ context.Context, b *herald.Batch) error {
		for i, m := range b.Messages {
			if string(m.Payload) == "bad" {
				b.DeadLetter(i, herald.Permanent(errors.New("not a row")))
			}
		}
		return nil
	}, subscriber.BatchMiddleware(middleware.BatchDeadLetter(pub, "{topic}.dlq")))
	if err := h.WaitSubscribed(ctx, "rows", "loader"); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx, "rows", payloadMsgs("", "a", "bad", "c")...); err != nil {
		t.Fatal(err)
	}
	if err := h.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	dl := h.DeadLettered("rows", "loader")
	if len(dl) != 1 || string(dl[0].Payload) != "bad" {
		t.Fatalf("dead-lettered %v, want the message \"bad\"", dl)
	}
	if n := len(h.Handled("rows", "loader")); n != 2 {
		t.Errorf("%d handled (acked), want 2", n)
	}
}
