package adaptertest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// receiveAsync calls st.Receive(ctx) in a goroutine and returns its
// result on the channel.
func receiveAsync(ctx context.Context, st adapters.Stream) <-chan error {
	out := make(chan error, 1)
	go func() {
		buf := make([]adapters.Received, 4)
		if _, err := st.Receive(ctx, buf); err != nil {
			out <- err
			return
		}
		err := errors.New("stream: Receive returned deliveries on a topic nothing was published to")
		out <- err
	}()
	return out
}

// awaitErr returns what ch yields, failing t after d.
func awaitErr(t *testing.T, d time.Duration, what string, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(d):
		t.Fatalf("%s: still blocked after %v", what, d)
		return nil
	}
}

// testDriverStreamClose: Stream.Close releases a Receive blocked in
// another goroutine and every later Receive with a *herald.Error of
// KindClosed naming the topic; Ack and Nack after Close do nothing (and
// do not panic); Close is idempotent. Every driver.
func testDriverStreamClose(t *testing.T, e *denv) {
	topic := e.topic("dstreamclose")
	st := e.openStream(e.openSub(e.group("dstreamclose")), topic, 4)
	m := herald.NewMessage([]byte("held"))
	e.publish(t, e.openTopic(), topic, m)
	r := st.next(t, e.wait())

	// An empty second stream of its own for the blocked Receive.
	idle := e.openStream(e.openSub(e.group("dstreamidle")), e.topic("dstreamidle"), 4)
	blocked := receiveAsync(context.Background(), idle)
	idle.close()
	e.checkError(t, "Receive blocked during Stream.Close", awaitErr(t, e.wait(), "Receive during Close", blocked), idle.topic, herald.KindClosed)

	st.close()
	closeWithin(t, "Stream (again)", e.wait(), st.Stream.Close)
	st.Ack(r.Token)
	if e.caps.Redelivery == adapters.RedeliverBroker {
		st.Nack(r.Token, 0)
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.wait())
	defer cancel()
	_, err := st.Receive(ctx, make([]adapters.Received, 1))
	e.checkError(t, "Receive after Stream.Close", err, topic, herald.KindClosed)
}

// testDriverSubscriptionClose: Subscription.Close closes its open
// streams (a blocked Receive returns KindClosed), Open after it fails
// with KindClosed naming the topic, and Close is idempotent. Every
// driver.
func testDriverSubscriptionClose(t *testing.T, e *denv) {
	topic := e.topic("dsubclose")
	sub := e.openSub(e.group("dsubclose"))
	st := e.openStream(sub, topic, 4)
	blocked := receiveAsync(context.Background(), st)
	closeWithin(t, "Subscription", e.wait(), sub.Close)
	e.checkError(t, "Receive blocked during Subscription.Close", awaitErr(t, e.wait(), "Receive during Subscription.Close", blocked), topic, herald.KindClosed)
	closeWithin(t, "Subscription (again)", e.wait(), sub.Close)
	other := e.topic("dsubclosed")
	_, err := sub.Open(e.ctx(), other, adapters.StreamOptions{Window: 1, Status: NewStatusLog().Report})
	e.checkError(t, "Open after Subscription.Close", err, other, herald.KindClosed)
}

// testDriverReceiveContext: Receive returns ctx's error when ctx ends
// while it waits, and the stream keeps receiving afterwards. Every
// driver.
func testDriverReceiveContext(t *testing.T, e *denv) {
	topic := e.topic("dreceivectx")
	st := e.openStream(e.openSub(e.group("dreceivectx")), topic, 4)
	ctx, cancel := context.WithCancel(context.Background())
	blocked := receiveAsync(ctx, st)
	cancel()
	if err := awaitErr(t, e.wait(), "Receive after its ctx was cancelled", blocked); !errors.Is(err, context.Canceled) {
		t.Errorf("Receive after its ctx was cancelled = %v; want context.Canceled", err)
	}
	m := herald.NewMessage([]byte("after"))
	e.publish(t, e.openTopic(), topic, m)
	st.until(t, []*herald.Message{m})
}

// testDriverAs: As on a Topic and a Subscription reports false, and
// leaves its target alone, for a type no client has. Every driver.
func testDriverAs(t *testing.T, e *denv) {
	type unknown struct{ _ int }
	for name, as := range map[string]func(any) bool{
		"Topic":        e.openTopic().As,
		"Subscription": e.openSub(e.group("das")).As,
	} {
		var target *unknown
		if as(&target) || target != nil {
			t.Errorf("%s.As(**unknown) = true or set the target; want false", name)
		}
	}
}
