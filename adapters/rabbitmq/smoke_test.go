package rabbitmq

import (
	"context"
	"testing"
	"time"

	"github.com/heraldkit/herald"
)

func TestPublishSubscribe(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	pub := openPub(t, url)
	sub := openSub(t, withQuery(url, "group=g1"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := sub.Subscribe(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	m := newMsg("hello")
	herald.SetKey(m, "k1")
	m.Metadata.Set("x-a", "b")
	if err := pub.Publish(topic, m); err != nil {
		t.Fatal(err)
	}
	got := receive(t, ch, 10*time.Second)
	got.Ack()
	if string(got.Payload) != "hello" || got.UUID != m.UUID || herald.Key(got) != "k1" || got.Metadata.Get("x-a") != "b" {
		t.Fatalf("got %s %q %v", got.UUID, got.Payload, got.Metadata)
	}
}
