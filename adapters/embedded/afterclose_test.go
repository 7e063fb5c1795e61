package embedded_test

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
// that names the backend (embedded), the operation and the topic.
func TestAfterClose(t *testing.T) {
	u := target(t.TempDir(), "group=g")
	pub, sub := openPubNoCleanup(t, u), openSubNoCleanup(t, u)
	tp := topic()
	_ = pub.Close()
	_ = sub.Close()
	check := func(what string, err error, op string) {
		t.Helper()
		if !errors.Is(err, herald.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", what, err)
			return
		}
		if want := `herald/embedded: ` + op + ` "` + tp + `"`; !strings.HasPrefix(err.Error(), want) {
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
	check("SubscribeInitialize", sub.(message.SubscribeInitializer).SubscribeInitialize(tp), "prepare")
}
