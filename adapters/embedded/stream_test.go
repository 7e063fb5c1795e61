package embedded_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/adaptertest"
	"github.com/heraldkit/herald/adapters/embedded"
	"github.com/heraldkit/herald/adapters/internal/natsx/natsxtest"
)

func embeddedFixture(t *testing.T) natsxtest.Fixture {
	dir := t.TempDir()
	keep := openPub(t, target(dir, "")) // keeps the server up for the whole test
	_ = keep
	return natsxtest.Fixture{
		Publisher:      func(t *testing.T) message.Publisher { return openPub(t, target(dir, "")) },
		Subscriber:     func(t *testing.T, group string) message.Subscriber { return openSub(t, target(dir, "group="+group)) },
		Topic:          func(*testing.T) string { return topic() },
		CountsAttempts: true,
	}
}

func TestStreamWindow(t *testing.T)    { natsxtest.StreamWindow(t, embeddedFixture(t)) }
func TestStreamNack(t *testing.T)      { natsxtest.StreamNack(t, embeddedFixture(t)) }
func TestPublishAsyncAll(t *testing.T) { natsxtest.PublishAsyncAll(t, embeddedFixture(t)) }
func TestPublishAsyncTooLarge(t *testing.T) {
	natsxtest.PublishAsyncTooLarge(t, embeddedFixture(t), embedded.MaxPayload)
}

// A delivery whose handler runs longer than the AckWait is kept from
// redelivery (progress signals from the stream's ticker): another member
// of the group gets nothing while it is held, and nothing once it is
// acked.
func TestStreamKeepsLongHandlersInProgress(t *testing.T) {
	dir := t.TempDir()
	u := target(dir, "group=g&ack_wait=1s")
	pub := openPub(t, target(dir, ""))
	tp := topic()
	subA, subB := openSub(t, u), openSub(t, u)
	a := streamOf(t, subA, tp, 4)
	if err := pub.Publish(tp, natsxtest.Numbered(1)...); err != nil {
		t.Fatal(err)
	}
	d := natsxtest.ReceiveN(t, a, 1, 10*time.Second)[0]
	b := streamOf(t, subB, tp, 4)
	natsxtest.NoDelivery(t, b, 2500*time.Millisecond) // 2.5 AckWaits
	a.Ack(d)
	natsxtest.NoDelivery(t, b, 1500*time.Millisecond)
	natsxtest.NoDelivery(t, a, 10*time.Millisecond)
}

func streamOf(t *testing.T, s message.Subscriber, topic string, window int) adapters.Stream {
	t.Helper()
	st, err := s.(adapters.StreamSubscriber).Stream(context.Background(), topic, window)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	return st
}

// A stream whose consumer is deleted reports the loss on its context,
// creates the consumer again, reports the recovery and hands out
// deliveries again; Stream after the subscriber's Close says ErrClosed.
func TestStreamConsumerDeletedRecovers(t *testing.T) {
	u := target(t.TempDir(), "group=g")
	sub := openSub(t, u)
	pub := openPub(t, u)
	tp := topic()
	status := adaptertest.NewStatusLog()
	st, err := sub.(adapters.StreamSubscriber).Stream(status.Context(context.Background()), tp, 8)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(context.Background())
	if err := pub.Publish(tp, natsxtest.Numbered(1)...); err != nil {
		t.Fatal(err)
	}
	st.Ack(natsxtest.ReceiveN(t, st, 1, 10*time.Second)[0])
	var js jetstream.JetStream
	if !pub.(interface{ As(any) bool }).As(&js) {
		t.Fatal("As(*jetstream.JetStream) failed")
	}
	stream, err := js.StreamNameBySubject(context.Background(), tp)
	if err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteConsumer(context.Background(), stream, "g"); err != nil {
		t.Fatal(err)
	}
	lost := status.Next(t, 10*time.Second)
	if !errors.Is(lost, herald.ErrSubscriptionLost) || !strings.Contains(lost.Error(), tp) {
		t.Fatalf("report %v, want ErrSubscriptionLost naming the topic", lost)
	}
	for {
		err := status.Next(t, 10*time.Second)
		if err == nil {
			break
		}
		if !errors.Is(err, herald.ErrSubscriptionLost) {
			t.Fatalf("report %v", err)
		}
	}
	// The new consumer starts again from the first retained message.
	got := natsxtest.ReceiveN(t, st, 1, 10*time.Second)
	if string(got[0].Msg.Payload) != "0" {
		t.Errorf("after the recovery: %q, want the retained message 0", got[0].Msg.Payload)
	}
	st.Ack(got[0])
	_ = sub.Close()
	if _, err := st.Receive(context.Background(), make([]adapters.Delivery, 1)); !errors.Is(err, herald.ErrClosed) {
		t.Errorf("Receive after the subscriber's Close: %v, want ErrClosed", err)
	}
	if _, err := sub.(adapters.StreamSubscriber).Stream(context.Background(), tp, 8); !errors.Is(err, herald.ErrClosed) {
		t.Errorf("Stream after Close: %v, want ErrClosed", err)
	}
}
