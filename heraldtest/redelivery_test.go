package heraldtest_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/heraldtest"
	"github.com/heraldkit/herald/middleware"
)

// A message that fails three times is redelivered after the subscriber's
// delays (100, 200, 400 ms) on the harness's clock, with its attempt
// counted: not before its time (Idle after each step short of it), and
// Drain jumps the clock through them.
func TestRedeliveryOnTheClock(t *testing.T) {
	ctx := testCtx(t)
	h := heraldtest.New(t)
	var mu sync.Mutex
	var attempts []int
	subscribe(t, h, "t", "g", func(ctx context.Context, m *herald.Message) error {
		d, _ := herald.DeliveryFromContext(ctx)
		mu.Lock()
		defer mu.Unlock()
		attempts = append(attempts, d.Attempt)
		if d.Attempt <= 3 {
			return errors.New("not yet")
		}
		return nil
	})
	m := publish(t, openPub(t, h), "t", "x")[0]
	start := h.Clock().Now()
	if err := h.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	if n := h.Attempts("t", "g", m.UUID); n != 1 {
		t.Fatalf("after the first delivery: %d attempts", n)
	}
	h.Clock().Advance(99 * time.Millisecond)
	if err := h.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	if n := h.Attempts("t", "g", m.UUID); n != 1 {
		t.Fatalf("99 ms after the failure: %d attempts, want 1 (the delay is 100 ms)", n)
	}
	h.Clock().Advance(time.Millisecond)
	if err := h.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	if n := h.Attempts("t", "g", m.UUID); n != 2 {
		t.Fatalf("100 ms after the failure: %d attempts, want 2", n)
	}
	if err := h.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if el := h.Clock().Now().Sub(start); el != 700*time.Millisecond {
		t.Errorf("the clock moved %v, want 700ms (100+200+400)", el)
	}
	if !slices.Equal(attempts, []int{1, 2, 3, 4}) {
		t.Errorf("handler saw attempts %v, want [1 2 3 4]", attempts)
	}
	fails := h.Failed("t", "g")
	var delays []time.Duration
	for _, d := range fails {
		delays = append(delays, d.Delay)
	}
	if !slices.Equal(delays, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}) {
		t.Errorf("failed deliveries asked for delays %v", delays)
	}
	if got := h.Handled("t", "g"); len(got) != 1 || got[0].UUID != m.UUID {
		t.Errorf("Handled = %v", got)
	}
	if n := h.Attempts("t", "g", m.UUID); n != 4 {
		t.Errorf("Attempts = %d, want 4", n)
	}
}

// Messages of one key are handled in publish order by a group even with
// two members, eight handlers each and failures: the next of a key waits
// until the one before is acked, also across its redeliveries.
func TestPerKeyOrder(t *testing.T) {
	ctx := testCtx(t)
	h := heraldtest.New(t)
	var mu sync.Mutex
	seen := map[string][]int{}
	failed := map[string]bool{}
	handler := func(_ context.Context, m *herald.Message) error {
		var key string
		var i int
		fmt.Sscanf(string(m.Payload), "%s %d", &key, &i)
		mu.Lock()
		defer mu.Unlock()
		if i%3 == 1 && !failed[string(m.Payload)] { // every third fails once
			failed[string(m.Payload)] = true
			return errors.New("once")
		}
		seen[key] = append(seen[key], i)
		return nil
	}
	subscribe(t, h, "t", "g", handler, withConcurrency(8))
	subscribe(t, h, "t", "g", handler, withConcurrency(8))
	pub := openPub(t, h)
	const keys, per = 5, 20
	for i := range per {
		for k := range keys {
			m := herald.NewMessage(fmt.Appendf(nil, "k%d %d", k, i))
			herald.SetKey(m, fmt.Sprintf("k%d", k))
			if err := pub.Publish(ctx, "t", m); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := h.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	for k := range keys {
		key := fmt.Sprintf("k%d", k)
		want := make([]int, per)
		for i := range want {
			want[i] = i
		}
		if !slices.Equal(seen[key], want) {
			t.Errorf("key %s handled in order %v", key, seen[key])
		}
	}
	if n := len(h.Failed("t", "g")); n != keys*7 {
		t.Errorf("%d failed deliveries, want %d", n, keys*7)
	}
}

// A message the handler cannot decode is dead-lettered by
// middleware.DeadLetter: it is among DeadLettered (not Handled) of its
// group, and its copy among Published of the dead-letter topic.
func TestDeadLettered(t *testing.T) {
	ctx := testCtx(t)
	h := heraldtest.New(t)
	pub := openPub(t, h)
	type order struct{ ID string }
	handler := herald.JSON(func(context.Context, order, *herald.Message) error { return nil })
	subscribe(t, h, "orders", "billing", handler, withMiddleware(middleware.DeadLetter(pub, "{topic}.dlq")))
	bad := publish(t, pub, "orders", `{"ID":`)[0]
	good, _ := herald.NewJSONMessage(order{"o-1"})
	if err := pub.Publish(ctx, "orders", good); err != nil {
		t.Fatal(err)
	}
	if err := h.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if dl := h.DeadLettered("orders", "billing"); len(dl) != 1 || dl[0].UUID != bad.UUID {
		t.Errorf("DeadLettered = %v, want the bad message", dl)
	}
	if got := heraldtest.HandledJSON[order](t, h, "orders", "billing"); !slices.Equal(got, []order{{"o-1"}}) {
		t.Errorf("HandledJSON = %v", got)
	}
	copies := h.Published("orders.dlq")
	if len(copies) != 1 || copies[0].Metadata.Get(middleware.DLQOriginalIDHeader) != bad.UUID ||
		copies[0].Metadata.Get(middleware.DLQReasonHeader) != middleware.DLQReasonPermanent {
		t.Errorf("orders.dlq got %v", copies)
	}
}

// A handler that asks for its redelivery delay (herald.RetryAfter) gets
// it on the clock: an hour is an instant for Drain, and the next message
// of the key waits for it.
func TestRetryAfterOnTheClock(t *testing.T) {
	ctx := testCtx(t)
	h := heraldtest.New(t)
	var order []string
	subscribe(t, h, "t", "g", func(ctx context.Context, m *herald.Message) error {
		d, _ := herald.DeliveryFromContext(ctx)
		if string(m.Payload) == "first" && d.Attempt == 1 {
			return herald.RetryAfter(errors.New("come back later"), time.Hour)
		}
		order = append(order, string(m.Payload))
		return nil
	})
	pub := openPub(t, h)
	for _, p := range []string{"first", "second"} {
		m := herald.NewMessage([]byte(p))
		herald.SetKey(m, "k")
		if err := pub.Publish(ctx, "t", m); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	if len(order) != 0 {
		t.Fatalf("handled %v while the first of the key waits its hour", order)
	}
	start := h.Clock().Now()
	if err := h.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(order, []string{"first", "second"}) || h.Clock().Now().Sub(start) != time.Hour {
		t.Errorf("handled %v after %v, want [first second] after 1h", order, h.Clock().Now().Sub(start))
	}
}
