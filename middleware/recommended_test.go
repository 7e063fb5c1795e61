package middleware_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/middleware"
)

func TestRecommendedValidatesConfig(t *testing.T) {
	for name, cfg := range map[string]middleware.Config{
		"dead-letter topic without publisher": {DeadLetterTopic: "dlq"},
		"negative timeout":                    {Timeout: -time.Second},
	} {
		if _, err := middleware.Recommended(nil, cfg); !errors.Is(err, herald.ErrInvalidConfig) {
			t.Errorf("%s: err = %v; want herald.ErrInvalidConfig", name, err)
		}
	}
	mws, err := middleware.Recommended(nil, middleware.Config{})
	if err != nil || len(mws) != 3 { // CorrelationID, Retry, Recover
		t.Fatalf("zero Config: %d middleware, %v; want 3", len(mws), err)
	}
	all, err := middleware.Recommended(&fakePub{}, middleware.Config{Logger: slogFor(&logRecorder{}), DeadLetterTopic: "dlq", Timeout: time.Second, Deduplicate: []middleware.DedupOption{}})
	if err != nil || len(all) != 7 {
		t.Fatalf("full Config: %d middleware, %v; want 7", len(all), err)
	}
	if pubs := middleware.RecommendedPublish(middleware.Config{}); len(pubs) != 1 {
		t.Fatalf("RecommendedPublish without a logger: %d; want 1 (correlation ID)", len(pubs))
	}
}

// The stack's order at work, without a broker: a panicking handler under
// a Timeout is retried, then dead-lettered, and the delivery is acked.
func TestRecommendedOrder(t *testing.T) {
	pub := &fakePub{}
	mws, err := middleware.Recommended(pub, middleware.Config{
		DeadLetterTopic: "{topic}.dlq", Timeout: time.Minute,
		Retry: []middleware.RetryOption{middleware.MaxAttempts(2), middleware.InitialDelay(time.Millisecond)},
	})
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	h := herald.Chain(herald.Handler(func(ctx context.Context, _ *herald.Message) error {
		calls++
		if _, ok := ctx.Deadline(); !ok {
			t.Error("no per-attempt deadline")
		}
		panic("kaboom")
	}), mws...)
	if err := h.Handle(deliveryCtx("orders", "g"), herald.NewMessage(nil)); err != nil {
		t.Fatalf("Handle = %v; want nil (dead-lettered)", err)
	}
	out := pub.messages()
	if calls != 2 || len(out) != 1 || out[0].topic != "orders.dlq" || out[0].msg.Metadata.Get(middleware.DLQAttemptsHeader) != "2" {
		t.Fatalf("calls %d, dead letters %+v; want 2 calls and one message to orders.dlq with 2 attempts", calls, out)
	}
	if middleware.CorrelationIDFromContext(out[0].ctx) == "" {
		t.Error("dead-letter publish ctx lacks the correlation ID")
	}
}
