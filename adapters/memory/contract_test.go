package memory_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

func open(t *testing.T, target string) (message.Publisher, message.Subscriber) {
	t.Helper()
	pub, err := adapters.OpenPublisher(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pub.Close() })
	sub, err := adapters.OpenSubscriber(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	return pub, sub
}

func next(t *testing.T, ch <-chan *message.Message, wait time.Duration) *message.Message {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(wait):
		t.Fatalf("no message within %v", wait)
		return nil
	}
}

// A nack with a delay (adapters.SetNackDelay) is redelivered after the
// delay, not before, and the other messages are not held back meanwhile.
func TestNackDelayIsHonoured(t *testing.T) {
	pub, sub := open(t, "mem://nackdelay?buffer=8")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := sub.Subscribe(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	a, b := herald.NewMessage([]byte("a")), herald.NewMessage([]byte("b"))
	if err := pub.Publish("t", a, b); err != nil {
		t.Fatal(err)
	}
	const delay = 200 * time.Millisecond
	first := next(t, ch, time.Second)
	if first.UUID != a.UUID {
		t.Fatalf("first delivery %s, want %s", first.UUID, a.UUID)
	}
	nacked := time.Now()
	adapters.SetNackDelay(first, delay)
	first.Nack()
	second := next(t, ch, time.Second)
	if second.UUID != b.UUID {
		t.Fatalf("second delivery %s, want the undelayed %s", second.UUID, b.UUID)
	}
	second.Ack()
	again := next(t, ch, 2*time.Second)
	elapsed := time.Since(nacked)
	again.Ack()
	if again.UUID != a.UUID {
		t.Fatalf("redelivery %s, want %s", again.UUID, a.UUID)
	}
	if elapsed < delay {
		t.Errorf("redelivered after %v; the nack asked for %v", elapsed, delay)
	}
}

// Every method called after Close returns an error wrapping ErrClosed
// that names the backend, the operation and the topic.
func TestAfterClose(t *testing.T) {
	pub, sub := open(t, "mem://afterclose")
	_ = pub.Close()
	_ = sub.Close()
	check := func(what string, err error, op string) {
		t.Helper()
		if !errors.Is(err, herald.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", what, err)
			return
		}
		if want := `herald/mem: ` + op + ` "t"`; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s after Close: %q, want it to start with %q", what, err, want)
		}
	}
	check("Publish", pub.Publish("t", herald.NewMessage(nil)), "publish to")
	check("PublishContext", pub.(adapters.ContextPublisher).PublishContext(context.Background(), "t", herald.NewMessage(nil)), "publish to")
	_, err := sub.Subscribe(context.Background(), "t")
	check("Subscribe", err, "subscribe to")
	init, ok := sub.(message.SubscribeInitializer)
	if !ok {
		t.Fatal("the memory subscriber is not a SubscribeInitializer")
	}
	check("SubscribeInitialize", init.SubscribeInitialize("t"), "prepare")
}

// A publish waiting for a full queue ends with its context, and leaves
// the caller's message untouched.
func TestPublishContextFullQueue(t *testing.T) {
	pub, sub := open(t, "mem://fullqueue?buffer=1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := sub.Subscribe(ctx, "t"); err != nil { // never read
		t.Fatal(err)
	}
	cp := pub.(adapters.ContextPublisher)
	// One message waits in the subscription, one in the queue.
	for range 2 {
		if err := cp.PublishContext(context.Background(), "t", herald.NewMessage(nil)); err != nil {
			t.Fatal(err)
		}
	}
	m := herald.NewMessage(nil)
	mctx := m.Context()
	pctx, pcancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer pcancel()
	start := time.Now()
	err := cp.PublishContext(pctx, "t", m)
	if took := time.Since(start); took > time.Second {
		t.Errorf("publish to a full queue returned after %v with a 100ms context", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("publish to a full queue: %v, want DeadlineExceeded", err)
	}
	if m.Context() != mctx {
		t.Error("PublishContext changed the message's context")
	}
}

// Groups are keyed by (topic, group): names holding separators do not
// mix topics, and a private subscriber never joins a named group.
func TestGroupNamesWithSeparators(t *testing.T) {
	pub, _ := open(t, "mem://names")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	subscribe := func(group, topic string) <-chan *message.Message {
		t.Helper()
		u := "mem://names"
		if group != "" {
			u += "?group=" + group
		}
		s, err := adapters.OpenSubscriber(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		ch, err := s.Subscribe(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		return ch
	}
	abc := subscribe("a", "b.c")
	ab_c := subscribe("a.b", "c")
	if err := pub.Publish("b.c", herald.NewMessage([]byte("x"))); err != nil {
		t.Fatal(err)
	}
	next(t, abc, time.Second).Ack()
	select {
	case m := <-ab_c:
		t.Fatalf("group a.b of topic c got %q, published to b.c", m.Payload)
	case <-time.After(100 * time.Millisecond):
	}
}
