package heraldtest_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/heraldtest"
)

// Groups share a topic's messages, every group gets each one, and a
// subscriber without a group gets its own copy.
func TestGroups(t *testing.T) {
	ctx := testCtx(t)
	h := heraldtest.New(t)
	pub := openPub(t, h)
	var a1, a2, b, p []string
	rec := func(to *[]string) herald.Handler {
		return func(_ context.Context, m *herald.Message) error { *to = append(*to, string(m.Payload)); return nil }
	}
	subscribe(t, h, "t", "a", rec(&a1))
	subscribe(t, h, "t", "a", rec(&a2))
	subscribe(t, h, "t", "b", rec(&b))
	subscribe(t, h, "t", "", rec(&p))
	publish(t, pub, "t", "1", "2", "3", "4")
	if err := h.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	shared := append(slices.Clone(a1), a2...)
	slices.Sort(shared)
	if want := []string{"1", "2", "3", "4"}; !slices.Equal(shared, want) || !slices.Equal(b, want) || !slices.Equal(p, want) {
		t.Errorf("group a got %v + %v, group b %v, private %v; want each of %v once per group", a1, a2, b, p, want)
	}
	if got := payloads(h.Handled("t", "a")); len(got) != 4 {
		t.Errorf("Handled(t, a) = %v", got)
	}
	if got := payloads(h.Handled("t", "")); len(got) != 4 {
		t.Errorf("Handled(t, \"\") = %v", got)
	}
	if got := payloads(h.Published("t")); !slices.Equal(got, []string{"1", "2", "3", "4"}) {
		t.Errorf("Published(t) = %v", got)
	}
}

// Two harnesses never share anything, even with the same topics and
// groups.
func TestIsolated(t *testing.T) {
	ctx := testCtx(t)
	h1, h2 := heraldtest.New(t), heraldtest.New(t)
	if h1.URL() == h2.URL() {
		t.Fatalf("two harnesses share %s", h1.URL())
	}
	var got2 []string
	subscribe(t, h2, "t", "g", func(_ context.Context, m *herald.Message) error { got2 = append(got2, string(m.Payload)); return nil })
	publish(t, openPub(t, h1), "t", "x")
	if err := h2.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if len(got2) != 0 || len(h2.Published("t")) != 0 || len(h1.Published("t")) != 1 {
		t.Errorf("h2 received %v, h2 published %d, h1 published %d", got2, len(h2.Published("t")), len(h1.Published("t")))
	}
}

// A URL of a harness that ended is refused at Open with an error naming
// the key.
func TestClosedHarnessRefused(t *testing.T) {
	h := heraldtest.Open()
	u := h.URL()
	h.Close()
	_, err := openPubErr(u)
	var ce *herald.ConfigError
	if !errors.As(err, &ce) || ce.Key != "hosts" {
		t.Fatalf("Open(%s) after Close = %v, want a ConfigError about hosts", u, err)
	}
}

// A named group keeps what is published while it has no subscriber, and
// what a subscriber held unsettled when it closed goes to the group's
// next subscriber first, with its attempt counted.
func TestGroupKeepsAndHandsOn(t *testing.T) {
	ctx := testCtx(t)
	h := heraldtest.New(t)
	pub := openPub(t, h)
	running, release := make(chan struct{}), make(chan struct{})
	first := subscribe(t, h, "t", "g", func(ctx context.Context, m *herald.Message) error {
		close(running)
		<-release
		return ctx.Err()
	}, subscriberDrain(time.Millisecond))
	publish(t, pub, "t", "held")
	<-running
	closed := make(chan error, 1)
	go func() { closed <- first.Close() }() // the drain times out: the handler is detached
	publish(t, pub, "t", "a", "b")
	// Idle returns once the subscriber's drain gave up and its stream
	// released the held message: the group has no subscriber then.
	if err := h.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	var got []string
	subscribe(t, h, "t", "g", func(_ context.Context, m *herald.Message) error { got = append(got, string(m.Payload)); return nil })
	if err := h.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"held", "a", "b"}) {
		t.Errorf("the next subscriber got %v, want [held a b]", got)
	}
	if ds := h.Deliveries("t", "g"); len(ds) != 3 || ds[0].Attempt != 2 {
		t.Errorf("deliveries %+v, want held at attempt 2 first", ds)
	}
}
