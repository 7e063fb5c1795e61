package middleware_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/middleware"
)

func TestTimeoutSetsDeadline(t *testing.T) {
	const d = 20 * time.Millisecond
	var deadline, entered time.Time
	var hasDeadline bool
	h := chain(func(ctx context.Context, _ *herald.Message) error {
		entered = time.Now()
		deadline, hasDeadline = ctx.Deadline()
		select { // a handler that honours ctx
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Second):
			return errors.New("ctx still not done after 5s")
		}
	}, middleware.Timeout(d))
	start := time.Now()
	err := h.Handle(deliveryCtx("t", ""), herald.NewMessage(nil))
	elapsed := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out after 20ms") {
		t.Fatalf("Handle = %v; want a timeout error wrapping context.DeadlineExceeded", err)
	}
	// The deadline is d from the start of the call, not more, not less.
	if !hasDeadline || deadline.Before(start.Add(d)) || deadline.After(entered.Add(d)) {
		t.Errorf("handler ctx deadline = %v (set: %v); want %v after the call started (between %v and %v)",
			deadline, hasDeadline, d, start.Add(d), entered.Add(d))
	}
	if elapsed < d {
		t.Errorf("Handle returned after %v; the deadline of %v cannot have passed", elapsed, d)
	}
}

func TestTimeoutKeepsSuccessAndOtherErrors(t *testing.T) {
	h := chain(func(ctx context.Context, _ *herald.Message) error {
		if _, ok := ctx.Deadline(); !ok {
			return errors.New("no deadline in ctx")
		}
		return nil
	}, middleware.Timeout(time.Minute))
	if err := h.Handle(deliveryCtx("t", ""), herald.NewMessage(nil)); err != nil {
		t.Fatal(err)
	}
	h = chain(func(context.Context, *herald.Message) error { return errBoom }, middleware.Timeout(time.Minute))
	if err := h.Handle(deliveryCtx("t", ""), herald.NewMessage(nil)); err != errBoom {
		t.Fatalf("Handle = %v; want errBoom unchanged", err)
	}
}

func TestTimeoutZeroDisables(t *testing.T) {
	h := chain(func(ctx context.Context, _ *herald.Message) error {
		if _, ok := ctx.Deadline(); ok {
			return errors.New("unexpected deadline")
		}
		return nil
	}, middleware.Timeout(0))
	if err := h.Handle(deliveryCtx("t", ""), herald.NewMessage(nil)); err != nil {
		t.Fatal(err)
	}
}

func TestTimeoutPerAttemptInsideRetry(t *testing.T) {
	calls := 0
	h := chain(func(ctx context.Context, _ *herald.Message) error {
		calls++
		if calls < 3 {
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}, middleware.Retry(middleware.InitialDelay(time.Millisecond)), middleware.Timeout(10*time.Millisecond))
	if err := h.Handle(deliveryCtx("t", ""), herald.NewMessage(nil)); err != nil || calls != 3 {
		t.Fatalf("Handle = %v after %d calls; want success on the third attempt, each with its own deadline", err, calls)
	}
}
