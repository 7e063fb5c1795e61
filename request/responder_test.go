package request_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/request"
)

// TestResponderSettling: the handler's result for a message that is not
// a request (permanent), for an expired request (acked, fn not called,
// counted as dropped) and for fn returning its context's cancellation
// while the subscriber stops (the error, so the request is handled
// again, and no reply).
func TestResponderSettling(t *testing.T) {
	c, err := request.Open(context.Background(), "mem://responder-settling")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	calls := 0
	h := request.Responder(c, func(ctx context.Context, n int) (int, error) {
		calls++
		<-ctx.Done()
		return 0, ctx.Err()
	})
	req := func(deadline time.Time) *herald.Message {
		m, _ := herald.NewJSONMessage(1)
		m.Metadata.Set(adapters.ReplyToHeader, "mem-inbox.none")
		m.Metadata.Set(adapters.CorrelationHeader, "c")
		m.Metadata.Set(request.DeadlineHeader, deadline.UTC().Format(time.RFC3339Nano))
		return m
	}

	if err := h(context.Background(), herald.NewMessage([]byte("1"))); !herald.IsPermanent(err) {
		t.Errorf("a message without reply address: %v; want a permanent error", err)
	}

	if err := h(context.Background(), req(time.Now().Add(-time.Second))); err != nil || calls != 0 || c.Dropped() != 1 {
		t.Errorf("expired request: err %v, fn called %d times, Dropped %d; want nil, 0, 1", err, calls, c.Dropped())
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the subscriber is stopping
	if err := h(ctx, req(time.Now().Add(time.Minute))); !errors.Is(err, context.Canceled) {
		t.Errorf("fn cancelled by the subscriber: %v; want context.Canceled (handled again)", err)
	}

	short := req(time.Now().Add(50 * time.Millisecond))
	if err := h(context.Background(), short); err != nil || c.Dropped() != 2 {
		t.Errorf("fn ran past the deadline: err %v, Dropped %d; want nil, 2", err, c.Dropped())
	}
}
