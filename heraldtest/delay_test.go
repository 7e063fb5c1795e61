package heraldtest_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/heraldtest"
	"github.com/heraldkit/herald/publisher"
)

// TestUnpaidOrderCancelled is the delayed-cancel test of the package
// documentation: the service's PublishAfter(30 min) is due at the time
// Publications records; a tick before it nothing is cancelled, at it the
// order is.
func TestUnpaidOrderCancelled(t *testing.T) {
	ctx := context.Background()
	h := heraldtest.New(t)
	svc, err := startOrders(ctx, h.URL()) // returns once it subscribes
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Stop()
	pub, _ := publisher.Open(ctx, h.URL())
	defer pub.Close()
	herald.PublishJSON(ctx, pub, "orders", "o-1", Placed{ID: "o-1"})
	h.Idle(ctx)
	due := h.Publications("orders.timeout")[0].DeliverAt // PublishAfter(30 min)
	h.Clock().AdvanceTo(due.Add(-time.Nanosecond))
	h.Idle(ctx)
	if n := len(h.Published("orders.cancelled")); n != 0 {
		t.Fatalf("%d orders cancelled a tick before their time", n)
	}
	h.Clock().AdvanceTo(due)
	h.Idle(ctx)
	if got := heraldtest.PublishedJSON[Cancelled](t, h, "orders.cancelled"); len(got) != 1 {
		t.Errorf("cancelled %+v, want o-1 at its time", got)
	}
}

// An order paid in time is not cancelled, one not paid is: Drain jumps
// the clock to the timeouts the service published from its handler (a
// delayed publish made by a handler is counted as any publish is, and the
// held message until its time) and returns once they were handled, so
// that "only o-2 was cancelled" is exact at once.
func TestDrainJumpsToDelayed(t *testing.T) {
	ctx := testCtx(t)
	h := heraldtest.New(t)
	svc, err := startOrders(ctx, h.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Stop() })
	pub := openPub(t, h)
	start := h.Clock().Now()
	for _, id := range []string{"o-1", "o-2", "o-3"} {
		if err := herald.PublishJSON(ctx, pub, "orders", id, Placed{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"o-1", "o-3"} {
		if err := herald.PublishJSON(ctx, pub, "payments", id, Paid{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if got := heraldtest.PublishedJSON[Cancelled](t, h, "orders.cancelled"); len(got) != 1 || got[0].ID != "o-2" {
		t.Errorf("cancelled %+v, want only o-2", got)
	}
	if got := len(h.Handled("orders.timeout", "orders")); got != 3 {
		t.Errorf("%d timeouts handled, want 3", got)
	}
	if moved := h.Clock().Now().Sub(start); moved < PayWithin || moved > PayWithin+time.Minute {
		t.Errorf("Drain moved the clock %v, want the %v of the timeouts (plus the real time the test ran)", moved, PayWithin)
	}
	for _, p := range h.Publications("orders.timeout") {
		if p.Held || p.DeliverAt.Sub(p.At) < PayWithin {
			t.Errorf("timeout %+v: want released, due %v after it was published", p, PayWithin)
		}
	}
}

// A delayed message published for a time on the harness's Clock
// (PublishAt(h.Clock().Now().Add(d))) is among Published at once, held
// (Publications: its DeliverAt, Held) and not delivered until the Clock
// reaches its time: a nanosecond before, Idle returns with it held; at
// its time it is delivered, settled at that time on the clock. Messages
// of one key for one time keep their send order, and a message
// published at once meanwhile is not held behind them. A fault fails a
// delayed publish as it fails any (nothing is held).
func TestDelayedOnTheClock(t *testing.T) {
	ctx := testCtx(t)
	h := heraldtest.New(t)
	var got []string
	subscribe(t, h, "t", "g", func(_ context.Context, m *herald.Message) error { got = append(got, string(m.Payload)); return nil })
	pub := openPub(t, h)
	due := h.Clock().Now().Add(time.Hour)
	var want []string
	for i := range 5 {
		m := herald.NewMessage(fmt.Appendf(nil, "late %d", i))
		herald.SetKey(m, "k")
		if err := pub.PublishAt(ctx, "t", due, m); err != nil {
			t.Fatal(err)
		}
		want = append(want, string(m.Payload))
	}
	h.FailPublish("t", 1, herald.KindUnreachable)
	if err := pub.PublishAt(ctx, "t", due, herald.NewMessage([]byte("failed"))); !errors.Is(err, herald.ErrUnreachable) {
		t.Errorf("delayed publish with a fault = %v, want ErrUnreachable", err)
	}
	publish(t, pub, "t", "now")
	if err := h.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"now"}) {
		t.Fatalf("handled %v before the delivery time, want only [now]", got)
	}
	ps := h.Publications("t")
	if len(ps) != 6 || len(h.Published("t")) != 6 {
		t.Fatalf("%d publications, want the 5 delayed and now (not the failed one)", len(ps))
	}
	for _, p := range ps[:5] {
		if !p.Held || !p.DeliverAt.Equal(due) || !p.At.Equal(due.Add(-time.Hour)) {
			t.Errorf("delayed publication %s: held %v, due %v, at %v; want held, due %v", p.Msg.Payload, p.Held, p.DeliverAt, p.At, due)
		}
	}
	if p := ps[5]; p.Held || !p.DeliverAt.IsZero() {
		t.Errorf("the message published at once is recorded held %v, due %v", p.Held, p.DeliverAt)
	}
	h.Clock().AdvanceTo(due.Add(-time.Nanosecond))
	if err := h.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !h.Publications("t")[0].Held {
		t.Fatalf("a nanosecond before the delivery time: handled %v", got)
	}
	h.Clock().AdvanceTo(due)
	if err := h.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got[1:], want) {
		t.Errorf("at the delivery time handled %v, want %v in send order", got[1:], want)
	}
	for _, d := range h.Deliveries("t", "g")[1:] {
		if !d.At.Equal(due) {
			t.Errorf("delivery of %s settled at %v on the clock, want %v", d.Msg.Payload, d.At, due)
		}
	}
	if h.Publications("t")[0].Held {
		t.Error("still recorded as held after its delivery")
	}
}

// The interplay of real time and the clock: PublishAfter(d) asks for
// the real now plus d. A test that advanced the harness's clock beyond
// the real time by more than d sees that time as past on the clock: the
// message is delivered at once (its DeliverAt is before the clock's
// time it was taken at).
func TestDelayedTimeTheClockPassed(t *testing.T) {
	ctx := testCtx(t)
	h := heraldtest.New(t)
	var got []string
	subscribe(t, h, "t", "g", func(_ context.Context, m *herald.Message) error { got = append(got, string(m.Payload)); return nil })
	pub := openPub(t, h)
	h.Clock().Advance(time.Hour)
	if err := pub.PublishAfter(ctx, "t", time.Minute, herald.NewMessage([]byte("due on the clock already"))); err != nil {
		t.Fatal(err)
	}
	if err := h.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	p := h.Publications("t")[0]
	if len(got) != 1 || p.Held || !p.DeliverAt.Before(p.At) {
		t.Errorf("handled %v, publication %+v; want it delivered at once, due before it was taken", got, p)
	}
	// The clock's own time, an hour ahead of the real now: due at once.
	if err := pub.PublishAt(ctx, "t", h.Clock().Now(), herald.NewMessage([]byte("due now on the clock"))); err != nil {
		t.Fatal(err)
	}
	if err := h.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	if p := h.Publications("t")[1]; len(got) != 2 || p.Held || !p.DeliverAt.Equal(p.At) {
		t.Errorf("handled %v, publication %+v; want the message due at the clock's time delivered at once", got, p)
	}
}
