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

func TestRecoverTurnsPanicIntoError(t *testing.T) {
	h := chain(func(context.Context, *herald.Message) error { panic("kaboom") }, middleware.Recover())
	err := h.Handle(deliveryCtx("t", ""), herald.NewMessage(nil))
	var pe *herald.PanicError
	if !errors.As(err, &pe) || pe.Value != "kaboom" || !strings.Contains(string(pe.Stack), "recover_test.go") {
		t.Fatalf("Handle = %v; want *herald.PanicError with value and a stack pointing at the test", err)
	}
	if herald.IsPermanent(err) {
		t.Error("a panic is permanent; want retryable")
	}
}

func TestRecoverPermanentPanic(t *testing.T) {
	h := chain(func(context.Context, *herald.Message) error { panic(herald.Permanent(errBoom)) }, middleware.Recover())
	err := h.Handle(deliveryCtx("t", ""), herald.NewMessage(nil))
	var pe *herald.PanicError
	if !errors.As(err, &pe) || !herald.IsPermanent(err) {
		t.Fatalf("Handle = %v; want a permanent *herald.PanicError", err)
	}
}

func TestRecoverInsideRetryRetriesPanics(t *testing.T) {
	pub := &fakePub{}
	calls := 0
	h := chain(func(context.Context, *herald.Message) error {
		calls++
		panic("kaboom")
	}, middleware.DeadLetter(pub, "dlq"), middleware.Retry(middleware.MaxAttempts(3), middleware.InitialDelay(time.Millisecond)), middleware.Recover())
	if err := h.Handle(deliveryCtx("t", ""), herald.NewMessage(nil)); err != nil {
		t.Fatalf("Handle = %v; want nil (dead-lettered)", err)
	}
	if calls != 3 {
		t.Fatalf("handler called %d times; want 3 (panics retried)", calls)
	}
	out := pub.messages()
	if len(out) != 1 || !strings.Contains(out[0].msg.Metadata.Get(middleware.DLQErrorHeader), "kaboom") {
		t.Fatalf("published %+v; want the message dead-lettered with the panic text", out)
	}
}
