package nats_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/internal/natsx/natsxtest"
)

// On core NATS a stream hands out at most window deliveries; settling
// one frees its place; a nack does not redeliver (at most once); after
// Close, Receive says ErrClosed.
func TestCoreStream(t *testing.T) {
	u := withQuery(brokerURL(t), "mode=core")
	sub := openSub(t, u)
	tp := topic(t)
	st, err := sub.(adapters.StreamSubscriber).Stream(context.Background(), tp, 4)
	if err != nil {
		t.Fatal(err)
	}
	pub := openPub(t, u)
	m := natsxtest.Numbered(6)
	herald.SetKey(m[0], "k")
	if err := pub.Publish(tp, m...); err != nil {
		t.Fatal(err)
	}
	got := natsxtest.ReceiveN(t, st, 4, 10*time.Second)
	if got[0].Key != "k" || got[0].Msg.UUID != m[0].UUID {
		t.Errorf("first delivery: key %q id %q, want k %q", got[0].Key, got[0].Msg.UUID, m[0].UUID)
	}
	natsxtest.NoDelivery(t, st, 200*time.Millisecond)
	st.Ack(got[0])
	d := natsxtest.ReceiveN(t, st, 1, 10*time.Second)[0]
	st.Nack(got[1], 0)
	d2 := natsxtest.ReceiveN(t, st, 1, 10*time.Second)[0]
	if string(d.Msg.Payload) != "4" || string(d2.Msg.Payload) != "5" {
		t.Errorf("payloads %q %q, want 4 5", d.Msg.Payload, d2.Msg.Payload)
	}
	for _, x := range append(got[2:], d, d2) {
		st.Ack(x)
	}
	natsxtest.NoDelivery(t, st, 300*time.Millisecond)
	if err := st.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Receive(context.Background(), make([]adapters.Delivery, 1)); !errors.Is(err, herald.ErrClosed) {
		t.Errorf("Receive after Close: %v, want ErrClosed", err)
	}
}
