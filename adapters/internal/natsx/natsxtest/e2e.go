package natsxtest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// End-to-end checks: the driver under the publisher and subscriber
// packages, as applications run it. target is a URL without a group.

// OpenPublisher opens a publisher of target; the test's cleanup closes
// it.
func OpenPublisher(t testing.TB, target string, opts ...publisher.Option) *publisher.Publisher {
	t.Helper()
	p, err := publisher.Open(context.Background(), target, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// Subscribing runs Subscribe on a new subscriber of target in the
// background until the test ends and returns once it is ready.
func Subscribing(t testing.TB, target, topic string, h herald.Handler, opts ...subscriber.Option) {
	t.Helper()
	ready := make(chan struct{}, 1)
	opts = append(opts, subscriber.WithReady(func(string) {
		select {
		case ready <- struct{}{}:
		default:
		}
	}))
	s, err := subscriber.Open(context.Background(), target, opts...)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Subscribe(context.Background(), topic, h) }()
	select {
	case <-ready:
	case err := <-errc:
		t.Fatalf("Subscribe: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("subscription not ready within 20s")
	}
	t.Cleanup(func() {
		_ = s.Close()
		<-errc
	})
}

// E2ESlowHandlersNoDuplicates is issue 14 item 5 as reported, through
// the facade: window 2, concurrency 1, handlers of 600ms that all
// succeed, ack_wait=1s, 10 messages: each is handled once (before the
// fix, 7 of 10 were handled twice).
func E2ESlowHandlersNoDuplicates(t *testing.T, target, topic string) {
	const n = 10
	var mu sync.Mutex
	handled := map[string]int{}
	attempts := map[int]int{}
	all := make(chan struct{})
	Subscribing(t, withQuery(target, "ack_wait=1s"), topic, func(ctx context.Context, m *herald.Message) error {
		time.Sleep(600 * time.Millisecond)
		d, _ := herald.DeliveryFromContext(ctx)
		mu.Lock()
		handled[m.UUID]++
		attempts[d.Attempt]++
		if len(handled) == n && handled[m.UUID] == 1 {
			close(all)
		}
		mu.Unlock()
		return nil
	}, subscriber.WithGroup("slow"), subscriber.WithWindow(2), subscriber.WithConcurrency(1))
	pub := OpenPublisher(t, target)
	for _, m := range Numbered(n) {
		if err := pub.Publish(context.Background(), topic, m); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-all:
	case <-time.After(time.Minute):
		t.Fatal("not every message was handled")
	}
	time.Sleep(2500 * time.Millisecond) // past ack_wait: a redelivery would come
	mu.Lock()
	defer mu.Unlock()
	twice := 0
	for _, c := range handled {
		if c > 1 {
			twice++
		}
	}
	if twice > 0 || len(attempts) != 1 {
		t.Errorf("%d of %d messages handled twice; handled by attempt: %v", twice, n, attempts)
	}
}

// E2ENackDelay is issue 14 item 10 through the facade: the redelivery
// delay is the subscriber's (here the handler's herald.RetryAfter),
// and the broker honours it (NakWithDelay): the message is not handled
// again before it, and is after; Attempt is the broker's count.
func E2ENackDelay(t *testing.T, target, topic string) {
	const delay = 2 * time.Second
	type seen struct {
		at      time.Time
		attempt int
	}
	got := make(chan seen, 4)
	Subscribing(t, target, topic, func(ctx context.Context, m *herald.Message) error {
		d, _ := herald.DeliveryFromContext(ctx)
		got <- seen{time.Now(), d.Attempt}
		if d.Attempt == 1 {
			return herald.RetryAfter(errors.New("not yet"), delay)
		}
		return nil
	}, subscriber.WithGroup("delay"))
	if err := OpenPublisher(t, target).Publish(context.Background(), topic, herald.NewMessage([]byte("x"))); err != nil {
		t.Fatal(err)
	}
	var first, second seen
	for i, s := range []*seen{&first, &second} {
		select {
		case *s = <-got:
		case <-time.After(30 * time.Second):
			t.Fatalf("delivery %d did not come", i+1)
		}
	}
	if first.attempt != 1 || second.attempt != 2 {
		t.Errorf("attempts %d then %d, want 1 then 2 (the broker's count)", first.attempt, second.attempt)
	}
	if gap := second.at.Sub(first.at); gap < delay-100*time.Millisecond || gap > delay+5*time.Second {
		t.Errorf("redelivered %v after the failure, want about %v", gap, delay)
	}
	select {
	case s := <-got:
		t.Errorf("handled a third time (attempt %d) after it succeeded", s.attempt)
	case <-time.After(500 * time.Millisecond):
	}
}

// withQuery appends query parameters to u.
func withQuery(u, q string) string {
	for i := 0; i < len(u); i++ {
		if u[i] == '?' {
			return u + "&" + q
		}
	}
	return u + "?" + q
}
