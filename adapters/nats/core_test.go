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

// On core NATS a stream hands out at most Window deliveries; settling
// one frees its place; a nack does not redeliver (at most once); after
// Close, Receive says ErrClosed.
func TestCoreStream(t *testing.T) {
	f := fixture(t, "", "mode=core")
	tp := topic(t)
	st := natsxtest.OpenStream(t, f.OpenSubscription(t, "", ""), tp, 4, nil)
	m := natsxtest.Numbered(6)
	herald.SetKey(m[0], "k")
	natsxtest.MustPublish(t, f.OpenTopic(t, ""), tp, m...)
	got := natsxtest.ReceiveN(t, st, 4, 10*time.Second)
	if got[0].Key != "k" || got[0].Msg.UUID != m[0].UUID || got[0].Attempt != 0 {
		t.Errorf("first delivery: key %q id %q attempt %d, want k %q 0", got[0].Key, got[0].Msg.UUID, got[0].Attempt, m[0].UUID)
	}
	natsxtest.NoDelivery(t, st, 200*time.Millisecond)
	if !st.Valid(got[0].Token) {
		t.Error("an unsettled delivery is not valid")
	}
	st.Ack(got[0].Token)
	if st.Valid(got[0].Token) {
		t.Error("a settled delivery is valid")
	}
	d := natsxtest.ReceiveN(t, st, 1, 10*time.Second)[0]
	st.Nack(got[1].Token, 0)
	d2 := natsxtest.ReceiveN(t, st, 1, 10*time.Second)[0]
	if string(d.Msg.Payload) != "4" || string(d2.Msg.Payload) != "5" {
		t.Errorf("payloads %q %q, want 4 5", d.Msg.Payload, d2.Msg.Payload)
	}
	for _, x := range append(got[2:], d, d2) {
		st.Ack(x.Token)
	}
	natsxtest.NoDelivery(t, st, 300*time.Millisecond)
	if err := st.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Receive(context.Background(), make([]adapters.Received, 1)); !errors.Is(err, herald.ErrClosed) {
		t.Errorf("Receive after Close: %v, want ErrClosed", err)
	}
}

// A core subscription is restored by the client after its server
// restarts (messages published during the outage are lost: at most
// once); the outage and the recovery are reported through Status. A
// private server: the shared one is not restarted.
func TestCoreResumesAfterRestart(t *testing.T) {
	ps := newPrivateServer(t, serverOptions())
	f := fixture(t, ps.URL(), "mode=core&reconnect_wait=50ms")
	tp := topic(t)
	status := natsxtest.NewStatusLog()
	st := natsxtest.OpenStream(t, f.OpenSubscription(t, "", ""), tp, 8, status.Report)
	pub := f.OpenTopic(t, "")
	natsxtest.MustPublish(t, pub, tp, herald.NewMessage([]byte("before")))
	st.Ack(natsxtest.ReceiveN(t, st, 1, 10*time.Second)[0].Token)
	ps.Stop()
	if err := status.Next(t, 10*time.Second); !errors.Is(err, herald.ErrSubscriptionLost) || !errors.Is(err, herald.ErrUnreachable) {
		t.Fatalf("status %v, want a lost subscription, unreachable", err)
	}
	ps.Start()
	status.Recovered(t, 15*time.Second)
	// The publisher's connection may come back before the server took the
	// subscription again: publish until one arrives.
	deadline := time.Now().Add(20 * time.Second)
	for {
		natsxtest.MustPublish(t, pub, tp, herald.NewMessage([]byte("after")))
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		buf := make([]adapters.Received, 1)
		n, _ := st.Receive(ctx, buf)
		cancel()
		if n == 1 {
			if string(buf[0].Msg.Payload) != "after" {
				t.Errorf("after the restart got %q", buf[0].Msg.Payload)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no message after the restart")
		}
	}
}
