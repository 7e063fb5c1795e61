package kafka_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/kafka"
)

// TestPublishAsync: done is called exactly once per message taken, with
// nil once the broker stored it and with an error naming the topic for a
// message over max_message_bytes (the others are not affected); the
// stored ones are delivered.
func TestPublishAsync(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	topic := uniqueName("async")
	pub := openPub(t, withQuery(target, "max_message_bytes=2048"))
	ap := pub.(adapters.AsyncPublisher)
	const n = 300
	var calls [n]atomic.Int32
	results := make(chan error, 2*n)
	good := map[string]bool{}
	for i := 0; i < n; i++ {
		payload := []byte("small")
		if i%50 == 7 {
			payload = make([]byte, 4096) // over max_message_bytes
		}
		m := herald.NewMessage(payload)
		if i%3 == 0 {
			herald.SetKey(m, "k")
		}
		if len(payload) < 100 {
			good[m.UUID] = true
		}
		err := ap.PublishAsync(context.Background(), topic, m, func(err error) {
			if calls[i].Add(1) == 1 {
				results <- err
			}
			if len(payload) < 100 && err != nil || len(payload) > 100 && err == nil {
				t.Errorf("message %d (%d bytes): done(%v)", i, len(payload), err)
			}
			if err != nil && !strings.Contains(err.Error(), `herald/kafka: publish to "`+topic+`"`) {
				t.Errorf("error %q does not name the backend, operation and topic", err)
			}
		})
		if err != nil {
			t.Fatalf("PublishAsync %d: %v", i, err)
		}
	}
	failed := 0
	for i := 0; i < n; i++ {
		select {
		case err := <-results:
			if err != nil {
				failed++
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%d of %d done calls within 30s", i, n)
		}
	}
	if failed != n-len(good) {
		t.Errorf("%d messages failed; want the %d over max_message_bytes", failed, n-len(good))
	}
	for i := range calls {
		if c := calls[i].Load(); c != 1 {
			t.Errorf("done of message %d called %d times", i, c)
		}
	}
	sub := openSub(t, withQuery(target, "group="+uniqueName("g")))
	st := openStream(t, sub, topic, 64)
	for len(good) > 0 {
		for _, d := range receiveN(t, st, min(len(good), 16), 30*time.Second) {
			if !good[d.Msg.UUID] {
				t.Fatalf("unexpected or repeated delivery %s", d.Msg.UUID)
			}
			delete(good, d.Msg.UUID)
			st.Ack(d)
		}
	}
}

// TestPublishAsyncBackPressure: with the window full, PublishAsync blocks
// until its context ends (the message is not taken: done is not called),
// and takes messages again once the window has room.
func TestPublishAsyncBackPressure(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	topic := uniqueName("backpressure")
	pub := openPub(t, target)
	kafka.SetAsyncWindow(pub.(*kafka.Publisher), 1)
	ap := pub.(adapters.AsyncPublisher)
	publish(t, pub, topic, herald.NewMessage([]byte("create the topic")))

	release := make(chan struct{})
	firstDone := make(chan error, 1)
	if err := ap.PublishAsync(context.Background(), topic, herald.NewMessage([]byte("1")), func(err error) {
		<-release // holds the window (a test only: done must not block)
		firstDone <- err
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var secondCalled atomic.Bool
	start := time.Now()
	err := ap.PublishAsync(ctx, topic, herald.NewMessage([]byte("2")), func(error) { secondCalled.Store(true) })
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), `herald/kafka: publish to "`+topic+`"`) {
		t.Fatalf("PublishAsync with a full window: %v; want herald/kafka: publish to %q: ... DeadlineExceeded", err, topic)
	}
	if took := time.Since(start); took < 250*time.Millisecond {
		t.Errorf("PublishAsync with a full window returned after %v; want it to wait for its context", took)
	}
	close(release)
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
	third := make(chan error, 1)
	if err := ap.PublishAsync(context.Background(), topic, herald.NewMessage([]byte("3")), func(err error) { third <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-third; err != nil {
		t.Fatal(err)
	}
	if secondCalled.Load() {
		t.Error("done called for a message PublishAsync did not take")
	}
}

var _ message.Publisher = (*kafka.Publisher)(nil)
