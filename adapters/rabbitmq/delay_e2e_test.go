package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"github.com/heraldkit/herald/adapters"
	"testing"
	"time"

	"github.com/heraldkit/herald"
)

// sendAtWait sends m for at and waits for its done.
func sendAtWait(t testing.TB, tp *topic, topic string, m *herald.Message, at time.Time) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return sendWaitWith(t, tp, ctx, topic, m, adapters.SendOptions{At: at})
}

// TestDelaySameDelayInOrder: messages of one key sent in order with the
// same delay take the same tiers in order, so they are delivered in
// publish order, each not before its time, without the tiers'
// dead-lettering headers.
func TestDelaySameDelayInOrder(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "g", "")) })
	sub := openSubT(t, withQuery(url, "group=g"))
	if err := sub.Prepare(t.Context(), topic); err != nil {
		t.Fatal(err)
	}
	st := openStreamT(t, sub, topic, 64, nil)
	tp := openTopicT(t, url)
	const n = 20
	due := make([]time.Time, n)
	for i := range due {
		m := newMsg(fmt.Sprint(i))
		herald.SetKey(m, "k")
		due[i] = time.Now().Add(3 * time.Second) // 3 s each: one route
		if err := sendAtWait(t, tp, topic, m, due[i]); err != nil {
			t.Fatalf("delayed Send %d: %v", i, err)
		}
	}
	got := receiveAcked(t, st, n, 30*time.Second)
	now := time.Now()
	for i, r := range got {
		if string(r.Msg.Payload) != fmt.Sprint(i) {
			t.Fatalf("delivered %v; want 0..%d in order", payloads(got, false), n-1)
		}
		for k := range r.Msg.Metadata {
			if deadLetterHeader(k) {
				t.Errorf("message %d carries the tiers' header %s", i, k)
			}
		}
	}
	if now.Before(due[n-1]) {
		t.Errorf("the last message was received %v before its time", due[n-1].Sub(now))
	}
	t.Logf("the last of %d delivered %v after its time", n, now.Sub(due[n-1]).Round(time.Millisecond))
}

// TestDelayRefusedWithoutConfirms: with confirm=false the driver declares
// no delayed delivery and a delayed Send is refused, naming confirm.
func TestDelayRefusedWithoutConfirms(t *testing.T) {
	url := withQuery(brokerURL(t), "confirm=false")
	if c := (Driver{}).Capabilities(mustConfig(t, url)); c.Delay.Max != 0 {
		t.Errorf("confirm=false declares Delay.Max %v; want 0", c.Delay.Max)
	}
	tp := openTopicT(t, url)
	err := tp.Send(t.Context(), freshTopic(t), newMsg("x"), adapters.SendOptions{At: time.Now().Add(time.Minute)}, func(error) { t.Error("done called") })
	var he *herald.Error
	if !errors.As(err, &he) || he.Kind != herald.KindInvalid {
		t.Errorf("delayed Send with confirm=false: %v; want KindInvalid", err)
	}
}

// TestDelayAfterTopicExchangeRecreated: a topic's exchange deleted and
// declared again by someone else (here a new group's subscriber, as
// after an operator's cleanup or a broker reset) loses the delivery
// exchange's binding to it. Plain publishes reach the new group; a
// delayed message, confirmed once a tier stored it, must reach it too,
// not vanish at the delivery exchange because the publisher remembers
// the binding as made.
func TestDelayAfterTopicExchangeRecreated(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "g1", ""), queueName(topic, "g2", "")) })
	sub1 := openSubT(t, withQuery(url, "group=g1"))
	if err := sub1.Prepare(t.Context(), topic); err != nil {
		t.Fatal(err)
	}
	st1 := openStreamT(t, sub1, topic, 8, nil)
	tp := openTopicT(t, url)
	if err := sendAtWait(t, tp, topic, newMsg("first"), time.Now().Add(time.Second)); err != nil {
		t.Fatalf("delayed Send: %v", err)
	}
	receiveAcked(t, st1, 1, 20*time.Second)

	if err := rawChannel(t).ExchangeDelete(topic, false, false); err != nil {
		t.Fatal(err)
	}
	sub2 := openSubT(t, withQuery(url, "group=g2"))
	if err := sub2.Prepare(t.Context(), topic); err != nil { // declares the exchange again
		t.Fatal(err)
	}
	st2 := openStreamT(t, sub2, topic, 8, nil)
	if err := sendAtWait(t, tp, topic, newMsg("delayed"), time.Now().Add(time.Second)); err != nil {
		t.Fatalf("delayed Send after the exchange came back: %v", err)
	}
	if err := sendWait(t, tp, t.Context(), topic, newMsg("plain")); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := receiveAcked(t, st2, 2, 20*time.Second) // fails: only "plain"
	if p := payloads(got, true); p[0] != "delayed" || p[1] != "plain" {
		t.Errorf("group g2 received %v; want delayed and plain", p)
	}
}
