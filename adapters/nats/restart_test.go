package nats_test

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

// TestCoreResumesAfterRestart: a core NATS subscription is restored by the
// client after a broker restart (messages published during the outage are
// lost: at most once).
func TestCoreResumesAfterRestart(t *testing.T) {
	u := withQuery(brokerURL(t), "mode=core&reconnect_wait=100ms")
	tp := topic(t)
	ch := subscribe(t, openSub(t, u), tp)
	pub := openPub(t, u)
	if err := pub.Publish(tp, newMsgs(1, "before")...); err != nil {
		t.Fatal(err)
	}
	receive(t, ch, 1, 10*time.Second)
	restartNATS(t)
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := pub.Publish(tp, newMsgs(1, "after")...)
		if err == nil {
			select {
			case m := <-ch:
				m.Ack()
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message after the restart (last publish error: %v)", err)
		}
	}
}

// TestPrivateConsumerDeletedOnClose: a subscriber without a group leaves
// no consumer behind.
func TestPrivateConsumerDeletedOnClose(t *testing.T) {
	_, js := rawConn(t)
	u := brokerURL(t)
	tp := topic(t)
	sub := openSub(t, u)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var chans []<-chan *message.Message
	for range 2 {
		ch, err := sub.Subscribe(ctx, tp)
		if err != nil {
			t.Fatal(err)
		}
		chans = append(chans, ch)
	}
	count := func() int {
		name, err := js.StreamNameBySubject(context.Background(), tp)
		if err != nil {
			t.Fatal(err)
		}
		st, err := js.Stream(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for range st.ConsumerNames(context.Background()).Name() {
			n++
		}
		return n
	}
	if n := count(); n != 1 {
		t.Fatalf("%d consumers for two Subscribe calls of one subscriber, want 1", n)
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	for _, ch := range chans {
		if _, ok := <-ch; ok {
			t.Error("channel still open after Close")
		}
	}
	if n := count(); n != 0 {
		t.Fatalf("%d consumers left after Close, want 0", n)
	}
}
