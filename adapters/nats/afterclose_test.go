package nats_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// Every method called after Close returns an error wrapping ErrClosed
// that names the backend, the operation and the topic.
func TestAfterClose(t *testing.T) {
	for _, q := range []string{"group=g", "mode=core&group=g"} {
		t.Run(q, func(t *testing.T) {
			u := withQuery(brokerURL(t), q)
			pub, sub := openPub(t, u), openSub(t, u)
			tp := topic(t)
			_ = pub.Close()
			_ = sub.Close()
			checkClosed(t, "nats", tp, pub, sub)
		})
	}
}

// checkClosed checks the errors of a closed publisher and subscriber.
func checkClosed(t *testing.T, scheme, tp string, pub message.Publisher, sub message.Subscriber) {
	t.Helper()
	check := func(what string, err error, op string) {
		t.Helper()
		if !errors.Is(err, herald.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", what, err)
			return
		}
		if want := "herald/" + scheme + ": " + op + ` "` + tp + `"`; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s after Close: %q, want it to start with %q", what, err, want)
		}
	}
	check("Publish", pub.Publish(tp, herald.NewMessage(nil)), "publish to")
	cp, ok := pub.(adapters.ContextPublisher)
	if !ok {
		t.Fatalf("%T is not an adapters.ContextPublisher", pub)
	}
	check("PublishContext", cp.PublishContext(context.Background(), tp, herald.NewMessage(nil)), "publish to")
	_, err := sub.Subscribe(context.Background(), tp)
	check("Subscribe", err, "subscribe to")
	init, ok := sub.(message.SubscribeInitializer)
	if !ok {
		t.Fatalf("%T is not a SubscribeInitializer", sub)
	}
	check("SubscribeInitialize", init.SubscribeInitialize(tp), "prepare")
}

// PublishContext does not change the caller's message.
func TestPublishContextLeavesMessage(t *testing.T) {
	for _, q := range []string{"", "mode=core"} {
		t.Run(q, func(t *testing.T) {
			pub := openPub(t, withQuery(brokerURL(t), q))
			m := herald.NewMessage([]byte("x"))
			before := m.Context()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if err := pub.(adapters.ContextPublisher).PublishContext(ctx, topic(t), m); err != nil {
				t.Fatal(err)
			}
			if m.Context() != before {
				t.Error("PublishContext changed the message's context")
			}
		})
	}
}
