package publisher_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/heraldtest"
	"github.com/heraldkit/herald/publisher"
)

// TestPropertiesReachTheDriver: PublishWith and PublishAsyncWith hand
// their herald.Properties to the driver with every message, also through
// a middleware that replaces the context and adds a message; Publish
// sends none.
func TestPropertiesReachTheDriver(t *testing.T) {
	ctx := context.Background()
	h := heraldtest.New(t)
	fork := func(next herald.PublishFunc) herald.PublishFunc {
		return func(_ context.Context, topic string, msgs ...*herald.Message) error {
			extra := herald.NewMessage([]byte("added by middleware"))
			return next(context.Background(), topic, append(msgs, extra)...)
		}
	}
	pub, err := publisher.Open(ctx, h.URL(), publisher.WithMiddleware(fork))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	props := herald.Properties{Time: time.Date(2026, 12, 7, 13, 40, 0, 0, time.UTC), TTL: time.Minute, Type: "t.1"}
	if err := pub.PublishWith(ctx, "sync", props, herald.NewMessage([]byte("a")), herald.NewMessage([]byte("b"))); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	if err := pub.PublishAsyncWith(ctx, "async", props, herald.NewMessage([]byte("c")), func(_ *herald.Message, err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx, "plain", herald.NewMessage([]byte("d"))); err != nil {
		t.Fatal(err)
	}
	for topic, n := range map[string]int{"sync": 3, "async": 2} {
		ps := h.Publications(topic)
		if len(ps) != n {
			t.Fatalf("%s: %d publications; want %d", topic, len(ps), n)
		}
		for _, p := range ps {
			if p.Properties != props {
				t.Errorf("%s: %q published with %+v; want %+v", topic, p.Msg.Payload, p.Properties, props)
			}
		}
	}
	for _, p := range h.Publications("plain") {
		if !p.Properties.IsZero() {
			t.Errorf("Publish sent properties %+v", p.Properties)
		}
	}
}

// TestPropertiesRefused: a field the backend does not carry, and a
// negative TTL, are refused before anything is sent, naming the backend
// and the field; the async done is not called.
func TestPropertiesRefused(t *testing.T) {
	ctx := context.Background()
	pub, err := publisher.Open(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	for field, p := range map[string]herald.Properties{
		"Time": {Time: time.Now()}, "TTL": {TTL: time.Second}, "Type": {Type: "t"},
	} {
		for what, err := range map[string]error{
			"PublishWith":      pub.PublishWith(ctx, "t", p, herald.NewMessage(nil)),
			"PublishAsyncWith": pub.PublishAsyncWith(ctx, "t", p, herald.NewMessage(nil), func(*herald.Message, error) { t.Error("done called") }),
		} {
			var he *herald.Error
			if !errors.As(err, &he) || he.Kind != herald.KindInvalid || he.Backend != "mem" || !strings.Contains(err.Error(), "Properties."+field) {
				t.Errorf("%s(%s) on mem: %v; want KindInvalid from mem naming Properties.%s", what, field, err, field)
			}
		}
	}
	h := heraldtest.New(t)
	hp, err := publisher.Open(ctx, h.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer hp.Close()
	err = hp.PublishWith(ctx, "t", herald.Properties{TTL: -time.Second}, herald.NewMessage(nil))
	if !errors.Is(err, herald.ErrInvalid) || !strings.Contains(err.Error(), "TTL") {
		t.Errorf("a negative TTL: %v; want ErrInvalid naming TTL", err)
	}
	if n := len(h.Publications("t")); n != 0 {
		t.Errorf("%d messages sent by refused publishes", n)
	}
}
