package heraldtest_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/heraldtest"
	"github.com/heraldkit/herald/subscriber"
)

// FailPublish fails the n-th publish to its topic with the kind asked
// for; an outcome-unknown failure is stored and delivered all the same.
func TestFailPublish(t *testing.T) {
	ctx := testCtx(t)
	h := heraldtest.New(t)
	pub := openPub(t, h)
	h.FailPublish("t", 2, herald.KindDenied)
	h.FailPublish("other", 1, herald.KindTooLarge)
	var errs []error
	for _, p := range []string{"1", "2", "3"} {
		errs = append(errs, pub.Publish(ctx, "t", herald.NewMessage([]byte(p))))
	}
	if errs[0] != nil || !errors.Is(errs[1], herald.ErrDenied) || errs[2] != nil {
		t.Errorf("publishes = %v, want nil, ErrDenied, nil", errs)
	}
	var he *herald.Error
	if !errors.As(errs[1], &he) || he.Backend != heraldtest.Scheme || he.Topic != "t" {
		t.Errorf("error %#v does not name the backend and topic", errs[1])
	}
	if got := payloads(h.Published("t")); !slices.Equal(got, []string{"1", "3"}) {
		t.Errorf("Published = %v, want [1 3]", got)
	}
	if err := pub.Publish(ctx, "other", herald.NewMessage(nil)); !errors.Is(err, herald.ErrTooLarge) {
		t.Errorf("publish to other = %v, want ErrTooLarge", err)
	}

	var got []string
	subscribe(t, h, "u", "g", func(_ context.Context, m *herald.Message) error { got = append(got, string(m.Payload)); return nil })
	h.FailPublish("", 1, herald.KindOutcomeUnknown)
	if err := pub.Publish(ctx, "u", herald.NewMessage([]byte("maybe"))); !errors.Is(err, herald.ErrOutcomeUnknown) {
		t.Errorf("publish = %v, want ErrOutcomeUnknown", err)
	}
	if err := h.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"maybe"}) {
		t.Errorf("an outcome-unknown publish was delivered as %v, want [maybe] (the broker had it)", got)
	}
}

// While the harness is down, publishes fail as unreachable and the
// subscriber reports an outage; the delivery it held is lost (its ack
// does nothing) and delivered again after Up, with its attempt counted.
func TestDownAndUp(t *testing.T) {
	ctx := testCtx(t)
	h := heraldtest.New(t)
	pub := openPub(t, h)
	running, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	var hookMu sync.Mutex
	var hooked []error
	sub := subscribe(t, h, "t", "g", func(ctx context.Context, m *herald.Message) error {
		once.Do(func() { close(running); <-release })
		return nil
	}, subscriber.WithErrorHook(func(err error) { hookMu.Lock(); hooked = append(hooked, err); hookMu.Unlock() }))
	m := publish(t, pub, "t", "first")[0]
	<-running
	h.Down()
	if err := pub.Publish(ctx, "t", herald.NewMessage([]byte("during"))); !errors.Is(err, herald.ErrUnreachable) {
		t.Errorf("publish while down = %v, want ErrUnreachable", err)
	}
	if err := sub.Health(); !errors.Is(err, herald.ErrSubscriptionLost) {
		t.Errorf("Health while down = %v, want ErrSubscriptionLost", err)
	}
	close(release) // its ack is lost with the connection
	if err := h.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	if got := h.Handled("t", "g"); len(got) != 0 {
		t.Errorf("handled while down: %v", got)
	}
	h.Up()
	if err := h.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sub.Health(); err != nil {
		t.Errorf("Health after Up = %v", err)
	}
	ds := h.Deliveries("t", "g")
	if len(ds) != 1 || ds[0].Msg.UUID != m.UUID || ds[0].Attempt != 2 || ds[0].Outcome != heraldtest.Handled {
		t.Errorf("deliveries %+v, want the first message handled at attempt 2", ds)
	}
	hookMu.Lock()
	defer hookMu.Unlock()
	if len(hooked) != 1 || !errors.Is(hooked[0], herald.ErrSubscriptionLost) {
		t.Errorf("error hook got %v, want one ErrSubscriptionLost", hooked)
	}
}

// DownFor ends on the clock: Drain jumps to the end of the outage and
// delivers what was queued.
func TestDownFor(t *testing.T) {
	ctx := testCtx(t)
	h := heraldtest.New(t)
	pub := openPub(t, h)
	sub := subscribe(t, h, "t", "g", func(context.Context, *herald.Message) error { return nil })
	if err := sub.Prepare(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	h.DownFor(time.Minute)
	if err := pub.Publish(ctx, "t", herald.NewMessage(nil)); !errors.Is(err, herald.ErrUnreachable) {
		t.Errorf("publish while down = %v", err)
	}
	h.Clock().Advance(59 * time.Second)
	if err := pub.Publish(ctx, "t", herald.NewMessage(nil)); !errors.Is(err, herald.ErrUnreachable) {
		t.Errorf("publish 59 s into a 1 min outage = %v", err)
	}
	h.Clock().Advance(time.Second)
	publish(t, pub, "t", "after")
	if err := h.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if got := payloads(h.Handled("t", "g")); !slices.Equal(got, []string{"after"}) {
		t.Errorf("Handled = %v", got)
	}
	// What an outage took from the subscriber is delivered once it ends:
	// Drain waits it out on the clock.
	running, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	subscribe(t, h, "v", "g", func(context.Context, *herald.Message) error {
		once.Do(func() { close(running); <-release })
		return nil
	})
	publish(t, pub, "v", "block")
	<-running
	before := h.Clock().Now()
	h.DownFor(time.Hour)
	close(release)
	if err := h.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if moved := h.Clock().Now().Sub(before); moved != time.Hour {
		t.Errorf("Drain moved the clock %v, want the hour of the outage", moved)
	}
	if ds := h.Deliveries("v", "g"); len(ds) != 1 || ds[0].Attempt != 2 {
		t.Errorf("deliveries %+v, want one at attempt 2", ds)
	}
}

// FailPublish counts each message of a Publish of several: the one that
// fails is named by the *herald.BatchError. Bad arguments panic.
func TestFailPublishInABatch(t *testing.T) {
	ctx := testCtx(t)
	h := heraldtest.New(t)
	pub := openPub(t, h)
	h.FailPublish("t", 2, herald.KindUnreachable)
	err := pub.Publish(ctx, "t", herald.NewMessage([]byte("1")), herald.NewMessage([]byte("2")), herald.NewMessage([]byte("3")))
	var be *herald.BatchError
	if !errors.As(err, &be) || len(be.Errs) != 3 || be.Errs[0] != nil || !errors.Is(be.Errs[1], herald.ErrUnreachable) || be.Errs[2] != nil {
		t.Fatalf("Publish of 3 = %v, want a BatchError failing the second as unreachable", err)
	}
	if got := payloads(h.Published("t")); !slices.Equal(got, []string{"1", "3"}) {
		t.Errorf("Published = %v", got)
	}
	for _, c := range []struct {
		n int
		k herald.Kind
	}{{0, herald.KindDenied}, {1, herald.KindOther}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("FailPublish(t, %d, %v) did not panic", c.n, c.k)
				}
			}()
			h.FailPublish("t", c.n, c.k)
		}()
	}
}
