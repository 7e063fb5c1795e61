package rabbitmq

import (
	"testing"
	"time"

	"github.com/heraldkit/herald/adapters"
)

// TestNackDelayHoldsWithoutBlocking: a message nacked with a delay is
// held while the consumer goes on with the next one; Close does not wait
// for the delay and leaves the held message for redelivery at once.
func TestNackDelayHoldsWithoutBlocking(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "hold", "")) })
	pub := openPub(t, url)
	sub, err := adapters.OpenSubscriber(t.Context(), withQuery(url, "group=hold"))
	if err != nil {
		t.Fatal(err)
	}
	ch, err := sub.Subscribe(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(topic, newMsg("a"), newMsg("b")); err != nil {
		t.Fatal(err)
	}
	a := receive(t, ch, 10*time.Second)
	start := time.Now()
	adapters.SetNackDelay(a, time.Minute)
	a.Nack()
	b := receive(t, ch, 5*time.Second)
	b.Ack()
	if string(b.Payload) != "b" {
		t.Fatalf("got %q after nacking a, want b", b.Payload)
	}
	closeStart := time.Now()
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(closeStart); d > 3*time.Second {
		t.Errorf("Close took %v with a message held", d)
	}
	next := openSub(t, withQuery(url, "group=hold"))
	ch2, err := next.Subscribe(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	again := receive(t, ch2, 10*time.Second)
	again.Ack()
	if string(again.Payload) != "a" || time.Since(start) > 20*time.Second {
		t.Errorf("got %q %v after the nack; want a, redelivered after Close, long before its minute", again.Payload, time.Since(start))
	}
}
