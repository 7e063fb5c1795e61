package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

func openStream(t *testing.T, sub message.Subscriber, topic string, window int) adapters.Stream {
	t.Helper()
	st, err := sub.(adapters.StreamSubscriber).Stream(context.Background(), topic, window)
	if err != nil {
		t.Fatalf("Stream(%q): %v", topic, err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	return st
}

// receiveN takes n deliveries from st within d.
func receiveN(t *testing.T, st adapters.Stream, n int, d time.Duration) []adapters.Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var got []adapters.Delivery
	buf := make([]adapters.Delivery, 32)
	for len(got) < n {
		k, err := st.Receive(ctx, buf[:min(len(buf), n-len(got))])
		if err != nil {
			t.Fatalf("received %d of %d deliveries: %v", len(got), n, err)
		}
		got = append(got, buf[:k]...)
	}
	return got
}

// committedOffset returns the group's committed offset of topic's partition 0,
// -1 when none.
func committedOffset(t *testing.T, target, group, topic string) int64 {
	t.Helper()
	offs, err := kadmClient(t, target).FetchOffsets(context.Background(), group)
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := offs.Lookup(topic, 0); ok && o.Err == nil {
		return o.At
	}
	return -1
}

// TestStreamWindow: a stream hands out a full window with none settled,
// and no more until one is settled; settled out of order, all but the
// first, nothing is committed past the first (Close commits what was
// settled), so the group's next stream gets the first again; once
// everything is settled, the commit reaches the end.
func TestStreamWindow(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	topic, group := uniqueName("window"), uniqueName("g")
	const window, n = 64, 100
	msgs := newMessages(n, "s")
	publish(t, openPub(t, withQuery(target, "partitions=1")), topic, msgs...)
	sub := openSub(t, withQuery(target, "group="+group))
	st := openStream(t, sub, topic, window)

	got := receiveN(t, st, window, 30*time.Second)
	for i, d := range got {
		if d.Msg.UUID != msgs[i].UUID || d.Attempt != 1 || d.Part != 0 {
			t.Fatalf("delivery %d: %q attempt %d partition %d; want %q attempt 1 partition 0", i, d.Msg.Payload, d.Attempt, d.Part, msgs[i].Payload)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	k, err := st.Receive(ctx, make([]adapters.Delivery, 8))
	cancel()
	if k != 0 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Receive with a full window: %d deliveries, %v; want none until its context ends", k, err)
	}
	for i := window - 1; i >= 1; i-- {
		st.Ack(got[i])
	}
	for _, d := range receiveN(t, st, n-window, 30*time.Second) {
		st.Ack(d)
	}
	if err := st.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if off := committedOffset(t, target, group, topic); off > 0 {
		t.Fatalf("committed offset %d with offset 0 unsettled; want nothing past it", off)
	}

	st2 := openStream(t, sub, topic, window)
	for i := 0; i < n; {
		for _, d := range receiveN(t, st2, min(window, n-i), 30*time.Second) {
			if i == 0 && d.Msg.UUID != msgs[0].UUID {
				t.Fatalf("first delivery of the next stream %q; want the unsettled %q", d.Msg.Payload, msgs[0].Payload)
			}
			st2.Ack(d)
			i++
		}
	}
	if err := st2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if off := committedOffset(t, target, group, topic); off != n {
		t.Fatalf("committed offset %d after all %d were settled; want %d", off, n, n)
	}
}

// TestStreamNack: a nacked delivery comes again from the same stream
// after its delay, with the next attempt number, and Close does not wait
// for a delay.
func TestStreamNack(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	topic := uniqueName("snack")
	msgs := newMessages(2, "k")
	publish(t, openPub(t, target), topic, msgs[0])
	sub := openSub(t, withQuery(target, "group="+uniqueName("g")))
	st := openStream(t, sub, topic, 8)
	d := receiveN(t, st, 1, 30*time.Second)[0]
	const delay = 300 * time.Millisecond
	start := time.Now()
	st.Nack(d, delay)
	again := receiveN(t, st, 1, 30*time.Second)[0]
	if again.Msg.UUID != d.Msg.UUID || again.Attempt != 2 {
		t.Fatalf("after a nack: %q attempt %d; want %q attempt 2", again.Msg.Payload, again.Attempt, d.Msg.Payload)
	}
	if waited := time.Since(start); waited < delay {
		t.Errorf("delivered again after %v; the delay was %v", waited, delay)
	}
	st.Nack(again, time.Hour)
	start = time.Now()
	if err := st.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Close took %v with a delivery held for an hour", took)
	}
	st.Ack(again) // after Close: ignored
}

// TestStreamRevokeWaitsForInFlight: when a second member joins, the first
// waits for the records it handed out of the partitions it gives up,
// settled during that wait, and commits them before handing the
// partitions over: the new member gets none of them again.
func TestStreamRevokeWaitsForInFlight(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	topic, group := uniqueName("revoke"), uniqueName("g")
	pub := openPub(t, withQuery(target, "partitions=2"))
	before := newMessages(20, "before")
	for i, m := range before {
		herald.SetKey(m, fmt.Sprintf("key-%d", i))
	}
	publish(t, pub, topic, before...)
	a := openStream(t, openSub(t, withQuery(target, "group="+group)), topic, 64)
	held := receiveN(t, a, len(before), 30*time.Second)

	b := openStream(t, openSub(t, withQuery(target, "group="+group)), topic, 64)
	// Settle while the first member's revoke waits for them (it waits up
	// to 10 s); a revoke that did not wait would commit nothing of them.
	time.Sleep(time.Second)
	for _, d := range held {
		a.Ack(d)
	}
	after := newMessages(20, "after")
	for i, m := range after {
		herald.SetKey(m, fmt.Sprintf("key-%d", i))
	}
	publish(t, pub, topic, after...)
	first := receiveN(t, b, 1, 60*time.Second)[0]
	if !strings.HasPrefix(string(first.Msg.Payload), "after") {
		t.Fatalf("the new member's first record is %q, settled by the old member before the hand-over; want an \"after\" record", first.Msg.Payload)
	}
}
