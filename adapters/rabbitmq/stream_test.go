package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// TestStreamAcksDoNotWaitForEarlierDelivery (issue 14, item 6a): with
// window 4 and the first delivery's handler stuck, the acks of the other
// three reach the broker at once, so the broker refills the window
// (before, they were withheld behind the unsettled first one and the
// stream stalled with 4 unacked); and after Close a second consumer gets
// only the stuck one again.
func TestStreamAcksDoNotWaitForEarlierDelivery(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "stuck", "")) })
	tp := openTopicT(t, url)
	sub := openSubT(t, withQuery(url, "group=stuck"))
	st := openStreamT(t, sub, topic, 4, nil)
	publishN(t, tp, topic, 10)

	first := receiveN(t, st, 4, 10*time.Second)
	receiveNone(t, st, 200*time.Millisecond) // the window is full
	for _, r := range first[1:] {            // first[0] is stuck
		st.Ack(r.Token)
	}
	more := receiveN(t, st, 3, 5*time.Second)
	if got := payloads(more, false); strings.Join(got, ",") != "4,5,6" {
		t.Errorf("after acking 1..3 with 0 stuck got %v; want 4,5,6", got)
	}
	for _, r := range more {
		st.Ack(r.Token)
	}
	if err := st.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	again := openStreamT(t, sub, topic, 16, nil)
	back := receiveN(t, again, 4, 10*time.Second)
	if got := payloads(back, true); strings.Join(got, ",") != "0,7,8,9" {
		t.Errorf("after Close got %v; want the stuck 0 and the undelivered 7..9", got)
	}
}

// TestStreamCloseAcksSettled (issue 14, item 6b): Close after four
// successful handlers and one still in flight sends the four acks before
// the channel closes: a new stream receives only the unfinished one
// (before, the three handled after it were requeued: duplicates).
func TestStreamCloseAcksSettled(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "closeack", "")) })
	tp := openTopicT(t, url)
	sub := openSubT(t, withQuery(url, "group=closeack"))
	st := openStreamT(t, sub, topic, 8, nil)
	publishN(t, tp, topic, 5)
	got := receiveN(t, st, 5, 10*time.Second)
	for i, r := range got {
		if i != 2 {
			st.Ack(r.Token)
		}
	}
	if err := st.Close(t.Context()); err != nil { // at once: acks still queued
		t.Fatal(err)
	}
	st.Ack(got[2].Token) // after Close: does nothing
	if st.Valid(got[2].Token) {
		t.Error("Valid after Close")
	}
	if _, err := st.Receive(t.Context(), make([]adapters.Received, 1)); !errors.Is(err, herald.ErrClosed) {
		t.Errorf("Receive after Close: %v; want herald.ErrClosed", err)
	}
	again := openStreamT(t, sub, topic, 8, nil)
	r := receiveN(t, again, 1, 10*time.Second)[0]
	again.Ack(r.Token)
	if string(r.Msg.Payload) != "2" || r.Msg.Metadata.Get(RedeliveredHeader) != "true" {
		t.Errorf("after Close got %q %v; want only 2, redelivered", r.Msg.Payload, r.Msg.Metadata)
	}
	receiveNone(t, again, 300*time.Millisecond)
}

// TestStreamNackOrder states what holds for order across a nack
// (documented in doc.go, "Order"), measured on RabbitMQ 3.10. A classic
// queue requeues the nacked message at its place (the head) and delivers
// it again after what it had delivered to the stream already: with
// window 1 that is nothing, so it is handled again before every later
// message; with window 4, the messages delivered before the nack reached
// the broker (4..6, delivered once 1..3 were acked) come first, then the
// nacked 0, then the messages not delivered yet (7). A quorum queue puts
// the nacked message behind every message it holds: it comes back last,
// whatever the window.
func TestStreamNackOrder(t *testing.T) {
	url := brokerURL(t)
	for _, tc := range []struct {
		queueType, window1, window4 string
	}{
		{"classic", "0,1,2", "1,2,3,4,5,6,0,7"},
		{"quorum", "1,2,0", "1,2,3,4,5,6,7,0"},
	} {
		t.Run(tc.queueType, func(t *testing.T) {
			tp := openTopicT(t, url)
			target := withQuery(url, "group=n&queue_type="+tc.queueType)
			t.Run("window1", func(t *testing.T) {
				topic := freshTopic(t)
				t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "n", "")) })
				st := openStreamT(t, openSubT(t, target), topic, 1, nil)
				publishN(t, tp, topic, 3)
				var order []string
				nacked := false
				for len(order) < 3 {
					r := receiveN(t, st, 1, 10*time.Second)[0]
					if string(r.Msg.Payload) == "0" && !nacked {
						nacked = true
						st.Nack(r.Token, 0)
						continue
					}
					order = append(order, string(r.Msg.Payload))
					st.Ack(r.Token)
				}
				if got := strings.Join(order, ","); got != tc.window1 {
					t.Errorf("window 1: handled %v after nacking 0; want %v", got, tc.window1)
				}
			})
			t.Run("window4", func(t *testing.T) {
				topic := freshTopic(t)
				t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "n", "")) })
				st := openStreamT(t, openSubT(t, target), topic, 4, nil)
				publishN(t, tp, topic, 8)
				first := receiveN(t, st, 4, 10*time.Second)
				for _, r := range first[1:] {
					st.Ack(r.Token)
				}
				later := receiveN(t, st, 3, 10*time.Second) // 4, 5, 6 fill the window again
				st.Nack(first[0].Token, 0)
				next := receiveN(t, st, 1, 10*time.Second) // the one slot the nack freed
				for _, r := range later {
					st.Ack(r.Token)
				}
				last := receiveN(t, st, 1, 10*time.Second)
				var order []string
				for _, r := range slices.Concat(first[1:], later, next, last) {
					order = append(order, string(r.Msg.Payload))
					st.Ack(r.Token)
				}
				if got := strings.Join(order, ","); got != tc.window4 {
					t.Errorf("window 4: handled %v; want %v", got, tc.window4)
				}
			})
		})
	}
}

// TestStreamWindowAndSettlements: a stream hands out its whole window and
// no more; acks settled out of order reach the broker (single acks above
// the unsettled one, a multiple-ack for the prefix) without closing the
// channel, so after Close only the unsettled delivery and the undelivered
// messages come back.
func TestStreamWindowAndSettlements(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "wm", "")) })
	tp := openTopicT(t, url)
	sub := openSubT(t, withQuery(url, "group=wm"))
	status := newStatusLog()
	st := openStreamT(t, sub, topic, 64, status)
	publishN(t, tp, topic, 70)

	got := receiveN(t, st, 64, 10*time.Second)
	receiveNone(t, st, 300*time.Millisecond) // the window is full
	for i := len(got) - 1; i >= 0; i-- {     // all but the fifth, the later ones first
		if i != 4 {
			st.Ack(got[i].Token)
		}
	}
	rest := receiveN(t, st, 6, 10*time.Second)
	for _, r := range rest {
		st.Ack(r.Token)
	}
	if err := st.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-status.C:
		t.Fatalf("the stream reported %v; want no loss (a bad ack closes the channel)", err)
	default:
	}
	again := openStreamT(t, sub, topic, 100, nil)
	back := receiveN(t, again, 1, 10*time.Second)
	if p := payloads(back, false); strings.Join(p, ",") != "4" {
		t.Errorf("after Close got back %v; want 4", p)
	}
	again.Ack(back[0].Token)
	receiveNone(t, again, 300*time.Millisecond)
}

// TestStreamNackRequeuesOne: Nack requeues its delivery alone; the acks
// around it, the multiple-ack past it included, keep the channel open (a
// multiple-ack naming a nacked tag would close it); a second settlement
// of a delivery does nothing.
func TestStreamNackRequeuesOne(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "nack1", "")) })
	tp := openTopicT(t, url)
	sub := openSubT(t, withQuery(url, "group=nack1"))
	status := newStatusLog()
	st := openStreamT(t, sub, topic, 32, status)
	publishN(t, tp, topic, 12)
	got := receiveN(t, st, 12, 10*time.Second)
	for _, r := range got[:8] {
		st.Ack(r.Token)
	}
	st.Nack(got[11].Token, 0)
	st.Nack(got[3].Token, 0) // already acked: ignored
	for _, r := range got[8:11] {
		st.Ack(r.Token)
	}
	st.Ack(got[11].Token) // already nacked: ignored
	r := receiveN(t, st, 1, 10*time.Second)[0]
	if string(r.Msg.Payload) != "11" || r.Msg.Metadata.Get(RedeliveredHeader) != "true" {
		t.Fatalf("got %q (metadata %v); want 11 redelivered", r.Msg.Payload, r.Msg.Metadata)
	}
	st.Ack(r.Token)
	receiveNone(t, st, 300*time.Millisecond)
	select {
	case err := <-status.C:
		t.Fatalf("stream reported %v; want no loss", err)
	default:
	}
	if err := st.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	receiveNone(t, openStreamT(t, sub, topic, 32, nil), 300*time.Millisecond)
}

// TestStreamKeyAndAttempt: Key is the herald-key header; on a quorum
// queue Attempt counts deliveries (x-delivery-count), on a classic one it
// is 0 (Capabilities.CountsAttempts is false: the broker only flags a
// redelivery).
func TestStreamKeyAndAttempt(t *testing.T) {
	url := brokerURL(t)
	for _, qt := range []string{"quorum", "classic"} {
		t.Run(qt, func(t *testing.T) {
			topic := freshTopic(t)
			t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "att", "")) })
			target := withQuery(url, "group=att&queue_type="+qt)
			if counts := (Driver{}).Capabilities(mustConfig(t, target)).CountsAttempts; counts != (qt == "quorum") {
				t.Errorf("CountsAttempts %v", counts)
			}
			tp := openTopicT(t, url)
			st := openStreamT(t, openSubT(t, target), topic, 8, nil)
			m := newMsg("k")
			herald.SetKey(m, "customer-7")
			if err := sendWait(t, tp, t.Context(), topic, m); err != nil {
				t.Fatal(err)
			}
			d := receiveN(t, st, 1, 10*time.Second)[0]
			st.Nack(d.Token, 0)
			d2 := receiveN(t, st, 1, 10*time.Second)[0]
			st.Ack(d2.Token)
			if d.Key != "customer-7" || d2.Key != "customer-7" {
				t.Errorf("keys %q, %q; want customer-7", d.Key, d2.Key)
			}
			want := [2]int{1, 2}
			if qt == "classic" {
				want = [2]int{0, 0}
			}
			if got := [2]int{d.Attempt, d2.Attempt}; got != want {
				t.Errorf("attempts %v; want %v", got, want)
			}
		})
	}
}

// TestStreamReportsLossAndResumes: a lost connection is reported through
// Status (KindUnreachable, wrapping herald.ErrSubscriptionLost) and
// logged below warn; the lost channel's deliveries are no longer Valid
// and settling them does nothing; the stream registers again, reports
// nil and receives the redelivered message.
func TestStreamReportsLossAndResumes(t *testing.T) {
	target, proxy := viaProxy(t)
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "sloss", "")) })
	env, logs := testEnv()
	s, err := Driver{}.OpenSubscription(t.Context(), mustConfig(t, withQuery(target, "group=sloss")), env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	status := newStatusLog()
	st := openStreamT(t, s.(*subscription), topic, 16, status)
	tp := openTopicT(t, url)
	publishN(t, tp, topic, 1)
	old := receiveN(t, st, 1, 10*time.Second)[0]
	if !st.Valid(old.Token) {
		t.Fatal("a live delivery is not Valid")
	}

	proxy.Down()
	err = status.next(t, 10*time.Second)
	kindIs(t, "status while down", err, herald.KindUnreachable)
	if !errors.Is(err, herald.ErrSubscriptionLost) || !strings.HasPrefix(fmt.Sprint(err), `herald/amqp: subscribe to "`+topic+`"`) {
		t.Fatalf("report %v; want herald/amqp: subscribe to ... wrapping herald.ErrSubscriptionLost", err)
	}
	if st.Valid(old.Token) {
		t.Error("a delivery of the lost channel is Valid")
	}
	st.Ack(old.Token) // the lost channel's: dropped
	proxy.Up()
	for status.next(t, 20*time.Second) != nil {
	}
	d := receiveN(t, st, 1, 10*time.Second)[0]
	if string(d.Msg.Payload) != "0" || d.Msg.Metadata.Get(RedeliveredHeader) != "true" {
		t.Errorf("after the outage got %q %v; want 0 redelivered", d.Msg.Payload, d.Msg.Metadata)
	}
	st.Ack(d.Token)
	publishN(t, tp, topic, 1)
	st.Ack(receiveN(t, st, 1, 10*time.Second)[0].Token)
	out := logs.String()
	if strings.Contains(out, "level=WARN") || !strings.Contains(out, "registered again") {
		t.Errorf("log: want info lines only, with the recovery:\n%s", out)
	}
}

// TestStreamQueueDeletedIsReported: deleting the queue under a stream
// (the broker cancels its consumer) is reported naming the cause; the
// stream declares the queue again and receives.
func TestStreamQueueDeletedIsReported(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	queue := queueName(topic, "sdel", "")
	t.Cleanup(func() { deleteTopology(t, topic, queue) })
	status := newStatusLog()
	st := openStreamT(t, openSubT(t, withQuery(url, "group=sdel")), topic, 8, status)
	if _, err := rawChannel(t).QueueDelete(queue, false, false, false); err != nil {
		t.Fatal(err)
	}
	err := status.next(t, 10*time.Second)
	if !errors.Is(err, herald.ErrSubscriptionLost) || !strings.Contains(fmt.Sprint(err), "deleted") {
		t.Fatalf("report %v; want herald.ErrSubscriptionLost naming the deleted queue", err)
	}
	for err != nil {
		err = status.next(t, 10*time.Second)
	}
	publishN(t, openTopicT(t, url), topic, 1)
	d := receiveN(t, st, 1, 10*time.Second)[0]
	st.Ack(d.Token)
	if string(d.Msg.Payload) != "0" {
		t.Errorf("got %q", d.Msg.Payload)
	}
}

// TestStreamClosedWithSubscription: closing the subscription ends a
// blocked Receive with KindClosed; Open and Prepare after it return
// KindClosed naming the topic.
func TestStreamClosedWithSubscription(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic) })
	sub := openSubT(t, url)
	st := openStreamT(t, sub, topic, 8, nil)
	errc := make(chan error, 1)
	go func() {
		_, err := st.Receive(context.Background(), make([]adapters.Received, 4))
		errc <- err
	}()
	if err := sub.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		kindIs(t, "Receive", err, herald.KindClosed)
	case <-time.After(5 * time.Second):
		t.Fatal("Receive did not return after the subscription closed")
	}
	_, err := sub.Open(t.Context(), topic, adapters.StreamOptions{Window: 8, Status: func(error) {}})
	kindIs(t, "Open after Close", err, herald.KindClosed)
	if !strings.HasPrefix(fmt.Sprint(err), `herald/amqp: subscribe to "`+topic+`"`) {
		t.Errorf("Open after Close: %v; want herald/amqp: subscribe to %q", err, topic)
	}
	kindIs(t, "Prepare after Close", sub.Prepare(t.Context(), topic), herald.KindClosed)
	if err := sub.Close(t.Context()); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
