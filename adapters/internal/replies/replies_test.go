package replies

import (
	"context"
	"errors"
	"testing"

	"github.com/heraldkit/herald"
)

// TestDeliverOnceToItsToken: a reply reaches the request of its token
// only, once; a second (duplicate) or late reply is dropped.
func TestDeliverOnceToItsToken(t *testing.T) {
	tb := New()
	waitA, forgetA, _ := tb.Add("a")
	defer forgetA()
	_, forgetB, _ := tb.Add("b")
	defer forgetB()
	m := herald.NewMessage([]byte("for a"))
	if !tb.Deliver("a", Result{Msg: m}) {
		t.Fatal("Deliver to a waiting token reported none waiting")
	}
	if tb.Deliver("a", Result{Msg: m}) {
		t.Fatal("a duplicate reply was delivered; want it dropped")
	}
	r, ok := waitA(context.Background())
	if !ok || r.Msg != m {
		t.Fatalf("wait = %v, %v; want the reply", r, ok)
	}
	if tb.Len() != 1 {
		t.Fatalf("Len = %d; want 1 (b still waits)", tb.Len())
	}
}

// TestFailAllAndClose: FailAll hands its error to every waiting request;
// Close wakes waiters with ok false and refuses Add.
func TestFailAllAndClose(t *testing.T) {
	tb := New()
	wait, forget, _ := tb.Add("x")
	defer forget()
	cause := errors.New("channel lost")
	tb.FailAll(cause)
	if r, _ := wait(context.Background()); !errors.Is(r.Err, cause) {
		t.Fatalf("after FailAll: %v; want the cause", r.Err)
	}
	wait2, forget2, _ := tb.Add("y")
	defer forget2()
	go tb.Close() // before or while wait2 waits: either way it ends
	if _, ok := wait2(context.Background()); ok {
		t.Fatal("a waiter survived Close")
	}
	if _, _, ok := tb.Add("z"); ok {
		t.Fatal("Add after Close succeeded")
	}
}
