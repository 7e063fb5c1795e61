package middleware

import (
	"context"
	"testing"
	"time"

	"github.com/heraldkit/herald"
)

func TestDeduplicateTTL(t *testing.T) {
	now := time.Unix(1000, 0)
	calls := 0
	h := Deduplicate(DedupTTL(time.Minute), func(c *dedupConfig) { c.now = func() time.Time { return now } })(
		herald.Handler(func(context.Context, *herald.Message) error { calls++; return nil }))
	ctx := context.Background()
	m := herald.NewMessage(nil)
	_ = h.Handle(ctx, m)
	now = now.Add(59 * time.Second)
	_ = h.Handle(ctx, m)
	if calls != 1 {
		t.Fatalf("duplicate within the TTL handled (%d calls)", calls)
	}
	now = now.Add(time.Minute) // 60s after it was last remembered
	_ = h.Handle(ctx, m)
	if calls != 2 {
		t.Fatalf("message not handled again after its TTL (%d calls)", calls)
	}
}
