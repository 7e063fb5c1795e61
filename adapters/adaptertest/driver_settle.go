package adaptertest

import (
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// testDriverAckedNotRedelivered: deliveries acked before Stream.Close
// (which flushes settlements) are not delivered again to the group's next
// subscription: a marker published afterwards comes first. Groups.
func testDriverAckedNotRedelivered(t *testing.T, e *denv) {
	require(t, e.caps.Groups, "Groups")
	topic, group := e.topic("dacked"), e.names.group("dacked")
	tp := e.openTopic()
	sub1 := e.openSub(group)
	st1 := e.openStream(sub1, topic, 16)
	msgs := messages(5, "acked")
	e.publish(t, tp, topic, msgs...)
	st1.until(t, msgs)
	st1.close()
	closeWithin(t, "Subscription", e.wait(), sub1.Close)

	st2 := e.openStream(e.openSub(group), topic, 16)
	marker := herald.NewMessage([]byte("marker"))
	e.publish(t, tp, topic, marker)
	acked := map[string]bool{}
	for _, m := range msgs {
		acked[m.UUID] = true
	}
	for _, r := range st2.until(t, []*herald.Message{marker}) {
		if acked[r.Msg.UUID] {
			t.Errorf("message %q was acked before Close, yet delivered to the group's next subscription", r.Msg.Payload)
		}
	}
}

// testDriverUnsettledRedelivered: deliveries neither acked nor nacked
// when Stream.Close returned are delivered to the group's next
// subscription (with Attempt >= 2 where the driver CountsAttempts), as
// are the messages the first stream had not handed out.
// Durable and Groups.
func testDriverUnsettledRedelivered(t *testing.T, e *denv) {
	require(t, e.caps.Durable && e.caps.Groups, "Durable and Groups")
	topic, group := e.topic("dunsettled"), e.names.group("dunsettled")
	tp := e.openTopic()
	sub1 := e.openSub(group)
	st1 := e.openStream(sub1, topic, 16)
	msgs := messages(5, "unsettled")
	e.publish(t, tp, topic, msgs...)
	held := map[string]bool{}
	for _, r := range st1.take(t, len(msgs)) {
		held[r.Msg.UUID] = true
	}
	st1.close()
	closeWithin(t, "Subscription", e.wait(), sub1.Close)

	st2 := e.openStream(e.openSub(group), topic, 16)
	for _, r := range st2.until(t, msgs) {
		if st2.caps.CountsAttempts && held[r.Msg.UUID] && r.Attempt < 2 {
			t.Errorf("message %q delivered again with Attempt %d; want >= 2 (CountsAttempts)", r.Msg.Payload, r.Attempt)
		}
	}
}

// testDriverNackRedelivers: Nack(token, 0) has the broker deliver the
// message again (Attempt 1 then 2 where the driver CountsAttempts, Valid
// both times), and once acked it is not delivered a third time.
// RedeliverBroker.
func testDriverNackRedelivers(t *testing.T, e *denv) {
	require(t, e.caps.Redelivery == adapters.RedeliverBroker, "RedeliverBroker")
	topic := e.topic("dnack")
	st := e.openStream(e.openSub(e.group("dnack")), topic, 4)
	tp := e.openTopic()
	m := herald.NewMessage([]byte("nacked"))
	e.publish(t, tp, topic, m)
	first := st.next(t, e.wait())
	if first.Msg.UUID != m.UUID {
		t.Fatalf("received %q; want the message published", first.Msg.Payload)
	}
	if !st.Valid(first.Token) {
		t.Errorf("Valid = false for a fresh delivery")
	}
	st.Nack(first.Token, 0)
	again := st.next(t, e.wait())
	if again.Msg.UUID != m.UUID {
		t.Fatalf("after Nack received %q; want the nacked message again", again.Msg.Payload)
	}
	if !st.Valid(again.Token) {
		t.Errorf("Valid = false for the redelivery")
	}
	if st.caps.CountsAttempts && (first.Attempt != 1 || again.Attempt != 2) {
		t.Errorf("Attempt %d then %d; want 1 then 2 (CountsAttempts)", first.Attempt, again.Attempt)
	}
	st.Ack(again.Token)
	marker := herald.NewMessage([]byte("marker"))
	e.publish(t, tp, topic, marker)
	for _, r := range st.until(t, []*herald.Message{marker}) {
		if r.Msg.UUID == m.UUID {
			t.Errorf("the message was delivered again after its Ack")
		}
	}
}

// nackDelay is the delay testDriverNackDelay asks of the broker.
const nackDelay = 2 * time.Second

// testDriverNackDelay: Nack(token, d) has the broker deliver the message
// again not before d, and a message published meanwhile is delivered
// without waiting for it. RedeliverBroker and NackDelay.
func testDriverNackDelay(t *testing.T, e *denv) {
	require(t, e.caps.Redelivery == adapters.RedeliverBroker && e.caps.NackDelay, "RedeliverBroker and NackDelay")
	topic := e.topic("dnackdelay")
	st := e.openStream(e.openSub(e.group("dnackdelay")), topic, 4)
	tp := e.openTopic()
	a, b := herald.NewMessage([]byte("delayed")), herald.NewMessage([]byte("meanwhile"))
	e.publish(t, tp, topic, a)
	first := st.next(t, e.wait())
	if first.Msg.UUID != a.UUID {
		t.Fatalf("received %q; want %q", first.Msg.Payload, a.Payload)
	}
	nacked := time.Now()
	st.Nack(first.Token, nackDelay)
	e.publish(t, tp, topic, b)
	var gotB time.Duration
	for gotA := false; !gotA; {
		r := st.next(t, e.wait())
		took := time.Since(nacked)
		st.Ack(r.Token)
		switch r.Msg.UUID {
		case b.UUID:
			gotB = took
		case a.UUID:
			gotA = true
			// 50ms for clocks that round; JetStream's timer fires after d.
			if took < nackDelay-50*time.Millisecond {
				t.Errorf("message nacked with a delay of %v was delivered again after %v", nackDelay, took)
			}
		}
	}
	if gotB == 0 { // not yet received: the redelivery came first
		st.until(t, []*herald.Message{b})
		gotB = time.Since(nacked)
	}
	if gotB > nackDelay {
		t.Errorf("the message published after the Nack came after %v: the delayed one held it back", gotB)
	}
}
