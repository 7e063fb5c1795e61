package publisher_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// TestDelayRefusedWithoutCapability: on a backend declaring no delayed
// delivery, PublishAt and PublishAfter are refused before the driver is
// called (the held topic takes nothing), naming the backend.
func TestDelayRefusedWithoutCapability(t *testing.T) {
	p, ht := openHeld(t)
	for name, err := range map[string]error{
		"PublishAfter":   p.PublishAfter(context.Background(), "t", time.Second, herald.NewMessage(nil)),
		"PublishAt":      p.PublishAt(context.Background(), "t", time.Now().Add(time.Minute), herald.NewMessage(nil)),
		"PublishAt/past": p.PublishAt(context.Background(), "t", time.Now().Add(-time.Minute), herald.NewMessage(nil)),
		"CheckDelay":     p.CheckDelay(time.Second),
		"CheckDelay/0":   p.CheckDelay(0),
	} {
		var he *herald.Error
		if !errors.As(err, &he) || he.Kind != herald.KindInvalid || he.Backend != "held-test" || !strings.Contains(err.Error(), "maximum delay 0") {
			t.Errorf("%s: %v; want a KindInvalid *herald.Error of held-test naming maximum delay 0", name, err)
		}
	}
	select {
	case m := <-ht.took:
		t.Fatalf("the driver was given %v", m)
	default:
	}
}

// TestDelayPastAndMiddleware: through publish middleware that even
// replaces the context, a delayed message keeps its delivery time and
// the middleware's changes; a time in the past is published at once;
// mem's declared maximum is taken.
func TestDelayPastAndMiddleware(t *testing.T) {
	ctx := context.Background()
	stamped := 0
	stamp := func(next herald.PublishFunc) herald.PublishFunc {
		return func(ctx context.Context, topic string, msgs ...*herald.Message) error {
			stamped++
			for _, m := range msgs {
				m.Metadata.Set("stamp", "yes")
			}
			// A middleware that loses the context keeps the delivery time.
			return next(context.Background(), topic, msgs...)
		}
	}
	pub, err := publisher.Open(ctx, "mem://delay-facade", publisher.WithMiddleware(stamp))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if err := pub.CheckDelay(time.Hour); err != nil {
		t.Fatalf("CheckDelay on mem: %v", err)
	}
	got := make(chan *herald.Message, 4)
	ready := make(chan struct{})
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sub, err := subscriber.Open(ctx, "mem://delay-facade", subscriber.WithReady(func(string) { close(ready) }))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	go sub.Subscribe(sctx, "d", func(_ context.Context, m *herald.Message) error { got <- m; return nil })
	<-ready

	start := time.Now()
	if err := pub.PublishAfter(ctx, "d", 300*time.Millisecond, herald.NewMessage([]byte("later"))); err != nil {
		t.Fatal(err)
	}
	if err := pub.PublishAt(ctx, "d", time.Now().Add(-time.Hour), herald.NewMessage([]byte("past"))); err != nil {
		t.Fatal(err)
	}
	first, second := <-got, <-got
	if string(first.Payload) != "past" || string(second.Payload) != "later" {
		t.Fatalf("got %q then %q; want past (at once) then later", first.Payload, second.Payload)
	}
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Errorf("the delayed message came after %v; want >= 300ms", el)
	}
	if second.Metadata.Get("stamp") != "yes" || stamped != 2 {
		t.Errorf("middleware ran %d times, stamp %q; want 2 and yes", stamped, second.Metadata.Get("stamp"))
	}
	err = pub.PublishAfter(ctx, "d", time.Duration(1<<63-1), herald.NewMessage(nil))
	if err != nil {
		t.Fatalf("the longest delay mem declares: %v", err)
	}
	if err := pub.PublishAt(ctx, "d", time.Time{}, herald.NewMessage(nil)); !errors.Is(err, herald.ErrInvalid) {
		t.Errorf("PublishAt(zero time): %v; want herald.ErrInvalid", err)
	}
	select {
	case m := <-got:
		t.Errorf("delivered %q after a refusal", m.Payload)
	case <-time.After(50 * time.Millisecond):
	}
}
