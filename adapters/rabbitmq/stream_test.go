package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/adaptertest"
)

// openStream opens a Stream of topic on sub, closed with the test.
func openStream(t *testing.T, sub message.Subscriber, ctx context.Context, topic string, window int) adapters.Stream {
	t.Helper()
	st, err := sub.(adapters.StreamSubscriber).Stream(ctx, topic, window)
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	return st
}

// receiveN receives exactly n deliveries within d.
func receiveN(t *testing.T, st adapters.Stream, n int, d time.Duration) []adapters.Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	var out []adapters.Delivery
	buf := make([]adapters.Delivery, 16)
	for len(out) < n {
		k, err := st.Receive(ctx, buf[:min(len(buf), n-len(out))])
		if err != nil {
			t.Fatalf("received %d of %d: %v", len(out), n, err)
		}
		out = append(out, buf[:k]...)
	}
	return out
}

// receiveNone checks that nothing arrives within d.
func receiveNone(t *testing.T, st adapters.Stream, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	buf := make([]adapters.Delivery, 8)
	n, err := st.Receive(ctx, buf)
	if n > 0 {
		var got []string
		for _, d := range buf[:n] {
			got = append(got, string(d.Msg.Payload))
		}
		t.Fatalf("received %v, want nothing", got)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Receive: %v; want context.DeadlineExceeded", err)
	}
}

func publishN(t *testing.T, pub message.Publisher, topic string, n int) {
	t.Helper()
	msgs := make([]*message.Message, n)
	for i := range msgs {
		msgs[i] = newMsg(fmt.Sprint(i))
	}
	if err := pub.Publish(topic, msgs...); err != nil {
		t.Fatal(err)
	}
}

func payloads(ds []adapters.Delivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, string(d.Msg.Payload))
	}
	slices.Sort(out)
	return out
}

// TestStreamWindowAndWatermark: a stream hands out its whole window
// before anything is settled and no more; acks settled out of order
// reach the broker only up to the first unsettled delivery (and are
// flushed by Close), so after Close everything from it on comes back.
func TestStreamWindowAndWatermark(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "wm", "")) })
	pub := openPub(t, url)
	sub := openSub(t, withQuery(url, "group=wm"))
	st := openStream(t, sub, t.Context(), topic, 64)
	publishN(t, pub, topic, 70)

	got := receiveN(t, st, 64, 10*time.Second)
	receiveNone(t, st, 300*time.Millisecond) // the window is full
	// Settle all but the fifth, the later ones first.
	for i := len(got) - 1; i >= 0; i-- {
		if i != 4 {
			st.Ack(got[i])
		}
	}
	if err := st.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Receive(t.Context(), make([]adapters.Delivery, 1)); !errors.Is(err, herald.ErrClosed) {
		t.Errorf("Receive after Close: %v; want herald.ErrClosed", err)
	}

	again := openStream(t, sub, t.Context(), topic, 100)
	back := receiveN(t, again, 66, 10*time.Second)
	var want []string
	for i := 4; i < 70; i++ {
		want = append(want, fmt.Sprint(i))
	}
	slices.Sort(want)
	if got := payloads(back); !slices.Equal(got, want) {
		t.Errorf("after Close got back %v; want 4..69", got)
	}
	for _, d := range back {
		again.Ack(d)
	}
	receiveNone(t, again, 300*time.Millisecond)
}

// TestStreamNackRequeuesOne: Nack(d, 0) requeues d alone; the acks
// around it, the multiple-ack past it included, keep the channel open
// (a multiple-ack naming a nacked tag would close it).
func TestStreamNackRequeuesOne(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "nack1", "")) })
	pub := openPub(t, url)
	sub := openSub(t, withQuery(url, "group=nack1"))
	rec := adaptertest.NewStatusLog()
	st := openStream(t, sub, rec.Context(t.Context()), topic, 32)
	publishN(t, pub, topic, 12)
	got := receiveN(t, st, 12, 10*time.Second)
	// 0..7 acked (prefix 8 tags), 11 nacked before 8..10 are acked:
	// the prefix then ends on the nacked tag.
	for _, d := range got[:8] {
		st.Ack(d)
	}
	st.Nack(got[11], 0)
	st.Nack(got[3], 0) // already acked: ignored
	for _, d := range got[8:11] {
		st.Ack(d)
	}
	d := receiveN(t, st, 1, 10*time.Second)[0]
	if string(d.Msg.Payload) != "11" || d.Msg.Metadata.Get(RedeliveredHeader) != "true" {
		t.Fatalf("got %q (metadata %v); want 11 redelivered", d.Msg.Payload, d.Msg.Metadata)
	}
	st.Ack(d)
	receiveNone(t, st, 300*time.Millisecond)
	select {
	case err := <-rec.C:
		t.Fatalf("stream reported %v; want no loss", err)
	default:
	}
	if err := st.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	receiveNone(t, openStream(t, sub, t.Context(), topic, 32), 300*time.Millisecond)
}

// TestStreamNackDelayDoesNotStallWindow: a delivery nacked with a delay
// is held while the deliveries behind it go on, even beyond the window
// (they are acked one by one meanwhile); it comes back after its delay,
// or at once when the stream closes.
func TestStreamNackDelayDoesNotStallWindow(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "hold8", "")) })
	pub := openPub(t, url)
	sub := openSub(t, withQuery(url, "group=hold8"))
	st := openStream(t, sub, t.Context(), topic, 4)
	publishN(t, pub, topic, 20)

	first := receiveN(t, st, 1, 10*time.Second)[0]
	st.Nack(first, time.Minute)
	for range 19 {
		st.Ack(receiveN(t, st, 1, 10*time.Second)[0])
	}
	// Short delay: comes back after it.
	publishN(t, pub, topic, 1)
	d := receiveN(t, st, 1, 10*time.Second)[0]
	start := time.Now()
	st.Nack(d, 300*time.Millisecond)
	back := receiveN(t, st, 1, 10*time.Second)[0]
	if waited := time.Since(start); string(back.Msg.Payload) != "0" || waited < 300*time.Millisecond {
		t.Errorf("got %q after %v; want 0 after >= 300ms", back.Msg.Payload, waited)
	}
	st.Ack(back)

	closeStart := time.Now()
	if err := st.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(closeStart); d > 3*time.Second {
		t.Errorf("Close took %v with a message held", d)
	}
	again := openStream(t, sub, t.Context(), topic, 4)
	if d := receiveN(t, again, 1, 10*time.Second)[0]; string(d.Msg.Payload) != "0" {
		t.Errorf("after Close got %q; want the held message 0", d.Msg.Payload)
	}
}

// TestStreamKeyAndAttempt: Key is the herald-key header; on a quorum
// queue Attempt counts deliveries, on a classic one it is 0.
func TestStreamKeyAndAttempt(t *testing.T) {
	url := brokerURL(t)
	for _, qt := range []string{"quorum", "classic"} {
		t.Run(qt, func(t *testing.T) {
			topic := freshTopic(t)
			t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "att", "")) })
			pub := openPub(t, url)
			sub := openSub(t, withQuery(url, "group=att&queue_type="+qt))
			st := openStream(t, sub, t.Context(), topic, 8)
			m := newMsg("k")
			herald.SetKey(m, "customer-7")
			if err := pub.Publish(topic, m); err != nil {
				t.Fatal(err)
			}
			d := receiveN(t, st, 1, 10*time.Second)[0]
			st.Nack(d, 0)
			d2 := receiveN(t, st, 1, 10*time.Second)[0]
			st.Ack(d2)
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

// TestStreamReportsLossAndResumes: a lost connection is reported and
// logged; the stream registers again and receives; settling a delivery
// of the lost channel does nothing (the broker redelivered it).
func TestStreamReportsLossAndResumes(t *testing.T) {
	target, proxy := viaProxy(t)
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "sloss", "")) })
	openCtx, logs := loggingCtx(t)
	sub, err := adapters.OpenSubscriber(openCtx, withQuery(target, "group=sloss"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	rec := adaptertest.NewStatusLog()
	st := openStream(t, sub, rec.Context(t.Context()), topic, 16)
	pub := openPub(t, url)
	publishN(t, pub, topic, 1)
	old := receiveN(t, st, 1, 10*time.Second)[0]

	proxy.Down()
	if err := rec.Next(t, 10*time.Second); !errors.Is(err, herald.ErrSubscriptionLost) ||
		!strings.HasPrefix(err.Error(), `herald/amqp: subscribe to "`+topic+`"`) {
		t.Fatalf("report %v; want herald.ErrSubscriptionLost", err)
	}
	st.Ack(old) // the lost channel's: dropped
	proxy.Up()
	for {
		if err := rec.Next(t, 20*time.Second); err == nil {
			break
		}
	}
	d := receiveN(t, st, 1, 10*time.Second)[0]
	if string(d.Msg.Payload) != "0" || d.Msg.Metadata.Get(RedeliveredHeader) != "true" {
		t.Errorf("after the outage got %q %v; want 0 redelivered", d.Msg.Payload, d.Msg.Metadata)
	}
	st.Ack(d)
	publishN(t, pub, topic, 1)
	st.Ack(receiveN(t, st, 1, 10*time.Second)[0])
	out := logs.String()
	for _, want := range []string{"level=WARN", "lost", "level=INFO", "receiving again"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

// TestStreamClosed: Stream after the subscriber closed, and Receive on a
// stream whose subscriber closed, return herald.ErrClosed.
func TestStreamClosed(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic) })
	sub, err := adapters.OpenSubscriber(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	st := openStream(t, sub, t.Context(), topic, 8)
	errc := make(chan error, 1)
	go func() {
		_, err := st.Receive(context.Background(), make([]adapters.Delivery, 4))
		errc <- err
	}()
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, herald.ErrClosed) {
			t.Errorf("Receive: %v; want herald.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Receive did not return after the subscriber closed")
	}
	_, err = sub.(adapters.StreamSubscriber).Stream(t.Context(), topic, 8)
	if !errors.Is(err, herald.ErrClosed) || !strings.Contains(fmt.Sprint(err), `herald/amqp: subscribe to "`+topic+`"`) {
		t.Errorf("Stream after Close: %v; want herald/amqp: subscribe to ... wrapping herald.ErrClosed", err)
	}
}

// TestStreamQueueDeletedIsReported: deleting the queue under a stream
// (the broker cancels its consumer) is reported as a lost subscription
// naming the cause; the stream declares the queue again and receives.
func TestStreamQueueDeletedIsReported(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	queue := queueName(topic, "sdel", "")
	t.Cleanup(func() { deleteTopology(t, topic, queue) })
	sub := openSub(t, withQuery(url, "group=sdel"))
	rec := adaptertest.NewStatusLog()
	st := openStream(t, sub, rec.Context(t.Context()), topic, 8)
	if _, err := rawChannel(t).QueueDelete(queue, false, false, false); err != nil {
		t.Fatal(err)
	}
	err := rec.Next(t, 10*time.Second)
	if !errors.Is(err, herald.ErrSubscriptionLost) || !strings.Contains(err.Error(), "deleted") {
		t.Fatalf("report %v; want herald.ErrSubscriptionLost naming the deleted queue", err)
	}
	for err != nil {
		err = rec.Next(t, 10*time.Second)
	}
	publishN(t, openPub(t, url), topic, 1)
	d := receiveN(t, st, 1, 10*time.Second)[0]
	st.Ack(d)
	if string(d.Msg.Payload) != "0" {
		t.Errorf("got %q", d.Msg.Payload)
	}
}

// TestStreamCloseFlushesAcks: acks settled right before Close (fewer
// than a multiple-ack waits for) reach the broker; the rest comes back.
func TestStreamCloseFlushesAcks(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "flush", "")) })
	pub := openPub(t, url)
	sub := openSub(t, withQuery(url, "group=flush"))
	st := openStream(t, sub, t.Context(), topic, 256)
	publishN(t, pub, topic, 5)
	got := receiveN(t, st, 5, 10*time.Second)
	for _, d := range got[:3] {
		st.Ack(d)
	}
	if err := st.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	again := openStream(t, sub, t.Context(), topic, 256)
	back := receiveN(t, again, 2, 10*time.Second)
	for _, d := range back {
		again.Ack(d)
	}
	if p := payloads(back); strings.Join(p, ",") != "3,4" {
		t.Errorf("after Close got back %v; want 3,4", p)
	}
	receiveNone(t, again, 300*time.Millisecond)
}
