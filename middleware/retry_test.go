package middleware_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/middleware"
)

func TestRetrySucceedsAfterFailures(t *testing.T) {
	c := &counter{failN: 2, err: errBoom}
	var mu sync.Mutex
	var events []middleware.Event
	var attempts []int
	h := chain(func(ctx context.Context, m *herald.Message) error {
		attempts = append(attempts, middleware.Attempt(ctx))
		return c.handle(ctx, m)
	}, middleware.Retry(middleware.InitialDelay(2*time.Millisecond), middleware.Jitter(0),
		middleware.OnRetry(func(_ context.Context, e middleware.Event) {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		})))
	msg := herald.NewMessage([]byte("x"))
	if err := h.Handle(deliveryCtx("t", ""), msg); err != nil {
		t.Fatalf("Handle = %v; want nil after two failures", err)
	}
	if got := c.calls.Load(); got != 3 {
		t.Fatalf("handler called %d times; want 3", got)
	}
	if want := []int{1, 2, 3}; !equalInts(attempts, want) {
		t.Errorf("Attempt(ctx) = %v; want %v", attempts, want)
	}
	if len(events) != 2 {
		t.Fatalf("OnRetry called %d times; want 2", len(events))
	}
	for i, e := range events {
		want := time.Duration(2<<i) * time.Millisecond // 2ms, 4ms
		if e.Kind != middleware.EventRetry || e.Attempt != i+1 || !errors.Is(e.Err, errBoom) || e.Topic != "t" || e.MessageID != msg.UUID || e.Redelivery {
			t.Errorf("event %d = %+v", i, e)
		}
		if e.Delay < want {
			t.Errorf("event %d: Delay (actually slept) = %v; want >= %v", i, e.Delay, want)
		}
	}
}

func TestRetryGivesUpAfterMaxAttempts(t *testing.T) {
	c := &counter{failN: 100, err: errBoom}
	h := chain(c.handle, middleware.Retry(middleware.MaxAttempts(3), middleware.InitialDelay(time.Millisecond)))
	err := h.Handle(deliveryCtx("t", ""), herald.NewMessage(nil))
	var ex *middleware.ExhaustedError
	if !errors.As(err, &ex) || ex.Attempts != 3 || !errors.Is(err, errBoom) || !errors.Is(err, middleware.ErrRetriesExhausted) {
		t.Fatalf("Handle = %v; want *ExhaustedError{Attempts: 3} wrapping errBoom", err)
	}
	if got := c.calls.Load(); got != 3 {
		t.Fatalf("handler called %d times; want 3", got)
	}
}

func TestRetryDefaultsAreBounded(t *testing.T) {
	c := &counter{failN: 100, err: errBoom}
	var slept time.Duration
	h := chain(c.handle, middleware.Retry(middleware.OnRetry(func(_ context.Context, e middleware.Event) { slept += e.Delay })))
	err := h.Handle(deliveryCtx("t", ""), herald.NewMessage(nil))
	if !errors.Is(err, middleware.ErrRetriesExhausted) {
		t.Fatalf("Handle = %v; want ErrRetriesExhausted", err)
	}
	if got := c.calls.Load(); got != middleware.DefaultMaxAttempts {
		t.Fatalf("handler called %d times; want DefaultMaxAttempts (%d)", got, middleware.DefaultMaxAttempts)
	}
	// 100+200+400+800ms nominal, jitter 0.5: at least half of it.
	if slept < 750*time.Millisecond {
		t.Errorf("slept %v in all; want >= 750ms with the default backoff", slept)
	}
}

func TestRetryStopsOnPermanent(t *testing.T) {
	perm := herald.Permanent(errBoom)
	c := &counter{failN: 100, err: perm}
	h := chain(c.handle, middleware.Retry(middleware.InitialDelay(time.Millisecond)))
	err := h.Handle(deliveryCtx("t", ""), herald.NewMessage(nil))
	if err != perm {
		t.Fatalf("Handle = %v; want the permanent error itself", err)
	}
	if got := c.calls.Load(); got != 1 {
		t.Fatalf("handler called %d times; want 1", got)
	}
}

// handleWithin runs h and fails the test if it has not returned within
// d: a Retry that sleeps when it should give up or stop would otherwise
// hang the test until the go test timeout.
func handleWithin(t *testing.T, d time.Duration, h herald.Handler, ctx context.Context, m *herald.Message) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- h.Handle(ctx, m) }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("Handle did not return within %v: Retry is sleeping instead of returning", d)
		return nil
	}
}

func TestRetryStopsWhenCtxDone(t *testing.T) {
	t.Run("cancelled during an attempt", func(t *testing.T) {
		ctx, cancel := context.WithCancel(deliveryCtx("t", ""))
		defer cancel()
		calls := 0
		h := chain(func(context.Context, *herald.Message) error {
			calls++
			cancel() // the subscriber is stopping
			return errBoom
		}, middleware.Retry(middleware.InitialDelay(time.Hour), middleware.MaxDelay(0), middleware.MaxElapsed(0)))
		err := handleWithin(t, 10*time.Second, h, ctx, herald.NewMessage(nil))
		if !errors.Is(err, errBoom) || errors.Is(err, middleware.ErrRetriesExhausted) {
			t.Fatalf("Handle = %v; want the handler's error, not exhausted", err)
		}
		if calls != 1 {
			t.Fatalf("handler called %d times; want 1", calls)
		}
	})
	t.Run("cancelled while sleeping", func(t *testing.T) {
		ctx, cancel := context.WithCancel(deliveryCtx("t", ""))
		defer cancel()
		var calls atomic.Int32
		failed := make(chan struct{}, 1)
		// No MaxElapsed, no cap: only ctx can end the hour-long sleep.
		h := chain(func(context.Context, *herald.Message) error {
			calls.Add(1)
			failed <- struct{}{}
			return errBoom
		}, middleware.Retry(middleware.InitialDelay(time.Hour), middleware.MaxDelay(0), middleware.MaxElapsed(0)))
		go func() { <-failed; cancel() }()
		err := handleWithin(t, 10*time.Second, h, ctx, herald.NewMessage(nil))
		if !errors.Is(err, errBoom) || errors.Is(err, middleware.ErrRetriesExhausted) {
			t.Fatalf("Handle = %v; want the handler's error, not exhausted", err)
		}
		if n := calls.Load(); n != 1 {
			t.Fatalf("handler called %d times; want 1", n)
		}
	})
}

func TestRetryGivesUpBeforeMaxElapsedOrDeadline(t *testing.T) {
	t.Run("MaxElapsed", func(t *testing.T) {
		c := &counter{failN: 100, err: errBoom}
		h := chain(c.handle, middleware.Retry(middleware.InitialDelay(time.Hour), middleware.MaxDelay(0), middleware.MaxElapsed(time.Minute)))
		err := handleWithin(t, 10*time.Second, h, deliveryCtx("t", ""), herald.NewMessage(nil))
		var ex *middleware.ExhaustedError
		if !errors.As(err, &ex) || ex.Attempts != 1 {
			t.Fatalf("Handle = %v; want exhausted after 1 attempt (the next would start past MaxElapsed)", err)
		}
	})
	t.Run("ctx deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(deliveryCtx("t", ""), time.Hour)
		defer cancel()
		c := &counter{failN: 100, err: errBoom}
		h := chain(c.handle, middleware.Retry(middleware.InitialDelay(2*time.Hour), middleware.MaxDelay(0), middleware.MaxElapsed(0)))
		err := handleWithin(t, 10*time.Second, h, ctx, herald.NewMessage(nil))
		if !errors.Is(err, middleware.ErrRetriesExhausted) || c.calls.Load() != 1 {
			t.Fatalf("Handle = %v after %d calls; want exhausted after 1", err, c.calls.Load())
		}
	})
}

func TestRetryHonoursRetryAfter(t *testing.T) {
	c := &counter{failN: 1, err: herald.RetryAfter(errBoom, 30*time.Millisecond)}
	var delay time.Duration
	h := chain(c.handle, middleware.Retry(middleware.InitialDelay(time.Millisecond),
		middleware.OnRetry(func(_ context.Context, e middleware.Event) { delay = e.Delay })))
	if err := h.Handle(deliveryCtx("t", ""), herald.NewMessage(nil)); err != nil {
		t.Fatal(err)
	}
	if delay < 30*time.Millisecond {
		t.Fatalf("slept %v; want >= the 30ms the handler asked for", delay)
	}
}

func TestRetryRedeliveryMode(t *testing.T) {
	var events []middleware.Event
	fail := true
	var seen []int
	h := chain(func(ctx context.Context, _ *herald.Message) error {
		seen = append(seen, middleware.Attempt(ctx))
		if fail {
			return errBoom
		}
		return nil
	}, middleware.Retry(middleware.Redelivery(), middleware.MaxAttempts(3), middleware.Jitter(0),
		middleware.InitialDelay(time.Second), middleware.MaxDelay(3*time.Second),
		middleware.OnRetry(func(_ context.Context, e middleware.Event) { events = append(events, e) })))
	ctx := deliveryCtx("t", "")
	msg := herald.NewMessage(nil)
	start := time.Now()
	for i, want := range []time.Duration{time.Second, 2 * time.Second} {
		err := h.Handle(ctx, msg)
		d, ok := herald.RetryDelay(err)
		if !ok || d != want || !errors.Is(err, errBoom) || errors.Is(err, middleware.ErrRetriesExhausted) {
			t.Fatalf("delivery %d: Handle = %v (delay %v, %v); want RetryAfter(errBoom, %v)", i+1, err, d, ok, want)
		}
	}
	err := h.Handle(ctx, msg)
	var ex *middleware.ExhaustedError
	if !errors.As(err, &ex) || ex.Attempts != 3 {
		t.Fatalf("delivery 3: Handle = %v; want *ExhaustedError{Attempts: 3}", err)
	}
	if d, _ := herald.RetryDelay(err); d != 3*time.Second {
		t.Errorf("delivery 3: redelivery delay %v; want MaxDelay (3s) for an exhausted message without DeadLetter", d)
	}
	if time.Since(start) > 500*time.Millisecond {
		t.Errorf("Redelivery mode slept in the handler (%v)", time.Since(start))
	}
	if !equalInts(seen, []int{1, 2, 3}) {
		t.Errorf("Attempt(ctx) per delivery = %v; want [1 2 3]", seen)
	}
	if len(events) != 2 || !events[0].Redelivery || events[1].Attempt != 2 || events[1].Delay != 2*time.Second {
		t.Errorf("events = %+v; want two redelivery retries", events)
	}
	// Success forgets the message.
	fail = false
	seen = nil
	if err := h.Handle(ctx, msg); err != nil {
		t.Fatal(err)
	}
	fail = true
	if err := h.Handle(ctx, msg); err == nil {
		t.Fatal("want an error")
	}
	if !equalInts(seen, []int{4, 1}) {
		t.Errorf("attempts after success = %v; want [4 1] (count restarts)", seen)
	}
}

// The subscriber's Attempt is the count Redelivery mode goes by.
func TestRetryRedeliveryUsesDeliveryAttempt(t *testing.T) {
	var got int
	h := chain(func(ctx context.Context, _ *herald.Message) error {
		got = middleware.Attempt(ctx)
		return errBoom
	}, middleware.Retry(middleware.Redelivery(), middleware.MaxAttempts(5)))
	ctx := herald.ContextWithDelivery(context.Background(), herald.Delivery{Backend: "mem", Topic: "t", Attempt: 5})
	err := h.Handle(ctx, herald.NewMessage(nil))
	if got != 5 || !errors.Is(err, middleware.ErrRetriesExhausted) {
		t.Fatalf("attempt %d, err %v; want attempt 5 from the delivery and exhausted", got, err)
	}
}

func TestRetryRedeliveryMemoryIsBounded(t *testing.T) {
	var got int
	h := chain(func(ctx context.Context, _ *herald.Message) error {
		got = middleware.Attempt(ctx)
		return errBoom
	}, middleware.Retry(middleware.Redelivery(), middleware.MaxAttempts(0), middleware.RedeliveryMemory(2, time.Hour)))
	ctx := deliveryCtx("t", "")
	a, b, c := herald.NewMessage(nil), herald.NewMessage(nil), herald.NewMessage(nil)
	for _, m := range []*herald.Message{a, a, b, c} {
		_ = h.Handle(ctx, m)
	}
	_ = h.Handle(ctx, a) // a was the least recently used: forgotten
	if got != 1 {
		t.Fatalf("attempt for an evicted message = %d; want 1", got)
	}
	_ = h.Handle(ctx, c)
	if got != 2 {
		t.Fatalf("attempt for a remembered message = %d; want 2", got)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
