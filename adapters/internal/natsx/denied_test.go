package natsx

import (
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
)

func TestDeniedSubject(t *testing.T) {
	err := fmt.Errorf("%w: %s", nats.ErrPermissionViolation, `Permissions Violation for Publish to "orders.created"`)
	if s, ok := deniedSubject(err); !ok || s != "orders.created" {
		t.Errorf("deniedSubject = %q, %v; want orders.created", s, ok)
	}
	sub := fmt.Errorf("%w: %s", nats.ErrPermissionViolation, `Permissions Violation for Subscription to "orders.created"`)
	if s, ok := deniedSubject(sub); ok {
		t.Errorf("a subscription violation gave subject %q", s)
	}
	if _, ok := deniedSubject(errors.New(`for Publish to "x"`)); ok {
		t.Error("an error that is not a permission violation matched")
	}
}

// deny fails the waiting messages of that subject, sync and async, and
// no other.
func TestWindowDeny(t *testing.T) {
	w := newAsyncWindow(4)
	a, b := &nats.Msg{Subject: "orders"}, &nats.Msg{Subject: "other"}
	ch := make(chan pubResult, 2)
	w.wait([]*nats.Msg{a, b}, ch)
	c, d := &nats.Msg{Subject: "orders"}, &nats.Msg{Subject: "other"}
	w.push(pendingPub{topic: "orders", nm: c})
	w.push(pendingPub{topic: "other", nm: d})

	refused := errors.New("refused")
	w.deny("orders", refused)
	select {
	case r := <-ch:
		if r.i != 0 || !errors.Is(r.err, refused) {
			t.Errorf("sync result %+v, want message 0 refused", r)
		}
	default:
		t.Fatal("the sync waiter got no result")
	}
	if len(ch) != 0 {
		t.Error("the message to another subject got a result")
	}
	if e := w.ring[0]; e.state != pubFailed || !errors.Is(e.err, refused) {
		t.Errorf("async message to orders: state %d err %v, want failed", e.state, e.err)
	}
	if e := w.ring[1]; e.state != pubPending {
		t.Errorf("async message to other: state %d, want pending", e.state)
	}
	select {
	case <-w.notify:
	default:
		t.Error("the ack waiter was not woken")
	}
}
