package natsx

import (
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/heraldkit/herald"
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

// deny fails the messages to that subject awaiting their PubAck, with
// ErrDenied, and no other.
func TestTopicDeny(t *testing.T) {
	tp := &Topic{scheme: "nats", byMsg: map[*nats.Msg]*pubEntry{}}
	got := map[string]error{}
	add := func(name, subject string) {
		e := &pubEntry{nm: &nats.Msg{Subject: subject}, topic: subject, done: func(err error) { got[name] = err }}
		tp.push(e)
	}
	add("a", "orders")
	add("b", "other")
	add("c", "orders")
	refused := errors.New("refused")
	tp.deny("orders", refused)
	for _, n := range []string{"a", "c"} {
		if err := got[n]; !errors.Is(err, herald.ErrDenied) || !errors.Is(err, refused) {
			t.Errorf("message %s: %v, want ErrDenied wrapping the cause", n, err)
		}
	}
	if _, ok := got["b"]; ok {
		t.Error("the message to another subject was failed")
	}
	if len(tp.byMsg) != 1 || tp.head == nil || tp.head.nm.Subject != "other" {
		t.Errorf("left %d messages, head %v", len(tp.byMsg), tp.head)
	}
}
