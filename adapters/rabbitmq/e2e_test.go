package rabbitmq

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// End-to-end tests: the driver under the publisher and subscriber
// packages, as users run it.

func openPublisher(t *testing.T, target string, opts ...publisher.Option) *publisher.Publisher {
	t.Helper()
	p, err := publisher.Open(t.Context(), target, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// subscribing runs Subscribe on a new subscriber of target in the
// background until the test ends (or stop is called) and returns once
// it is ready.
func subscribing(t *testing.T, target, topic string, h herald.Handler, opts ...subscriber.Option) (stop func() error) {
	t.Helper()
	ready := make(chan struct{}, 1)
	opts = append(opts, subscriber.WithReady(func(string) { ready <- struct{}{} }))
	s, err := subscriber.Open(t.Context(), target, opts...)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Subscribe(context.Background(), topic, h) }()
	select {
	case <-ready:
	case err := <-errc:
		t.Fatalf("Subscribe: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("subscription not ready within 10s")
	}
	var once sync.Once
	stop = func() error {
		var err error
		once.Do(func() {
			err = s.Close()
			<-errc
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// TestE2ERoundTrip: a message published is handled with its ID, key and
// metadata, and the subscriber declares what RabbitMQ does.
func TestE2ERoundTrip(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "rt", "")) })
	got := make(chan *herald.Message, 1)
	subscribing(t, url, topic, func(_ context.Context, m *herald.Message) error { got <- m; return nil }, subscriber.WithGroup("rt"))
	m := newMsg("hello")
	herald.SetKey(m, "k1")
	m.Metadata.Set("x-a", "b")
	if err := openPublisher(t, url).Publish(t.Context(), topic, m); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-got:
		if string(r.Payload) != "hello" || r.UUID != m.UUID || herald.Key(r) != "k1" || r.Metadata.Get("x-a") != "b" {
			t.Fatalf("got %s %q %v", r.UUID, r.Payload, r.Metadata)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing handled")
	}
}

// TestE2EPublishAsyncKeepsOrder (issue 14, item 7, end to end): one
// producer's PublishAsync messages of one key are handled in publish
// order by a subscriber with one worker, with a pool of 4 channels.
func TestE2EPublishAsyncKeepsOrder(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "ao", "")) })
	const n = 2000
	var mu sync.Mutex
	var order []int
	all := make(chan struct{})
	subscribing(t, url, topic, func(_ context.Context, m *herald.Message) error {
		i, _ := strconv.Atoi(string(m.Payload))
		mu.Lock()
		defer mu.Unlock()
		order = append(order, i)
		if len(order) == n {
			close(all)
		}
		return nil
	}, subscriber.WithGroup("ao"), subscriber.WithConcurrency(1))
	p := openPublisher(t, withQuery(url, "pool=4"))
	for i := range n {
		m := newMsg(strconv.Itoa(i))
		herald.SetKey(m, "one-key")
		if err := p.PublishAsync(t.Context(), topic, m, func(_ *herald.Message, err error) {
			if err != nil {
				t.Error(err)
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-all:
	case <-time.After(60 * time.Second):
		t.Fatal("not every message handled within 60s")
	}
	mu.Lock()
	defer mu.Unlock()
	for i, v := range order {
		if v != i {
			t.Fatalf("position %d holds message %d", i, v)
		}
	}
}

// TestE2ESlowHandlerDoesNotStall (issue 14, item 6, end to end): with a
// window of 4, one handler stuck on its message does not stop the
// others: every other message is handled meanwhile (before, the acks
// behind the stuck delivery were withheld and the window stayed full).
func TestE2ESlowHandlerDoesNotStall(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "slow", "")) })
	const n = 20
	release := make(chan struct{})
	var mu sync.Mutex
	handled := map[string]bool{}
	others := make(chan struct{})
	subscribing(t, url, topic, func(ctx context.Context, m *herald.Message) error {
		if string(m.Payload) == "0" {
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		handled[string(m.Payload)] = true
		if len(handled) == n-1 {
			close(others)
		}
		return nil
	}, subscriber.WithGroup("slow"), subscriber.WithWindow(4), subscriber.WithConcurrency(4))
	p := openPublisher(t, url)
	for i := range n {
		m := newMsg(strconv.Itoa(i))
		herald.SetKey(m, "k"+strconv.Itoa(i))
		if err := p.Publish(t.Context(), topic, m); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-others:
	case <-time.After(15 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("with message 0 stuck, %d of the %d others were handled", len(handled), n-1)
	}
	close(release)
}

// TestE2ECloseAcksHandled (issue 14, item 6, end to end): closing a
// subscriber after four messages were handled and one is still in its
// handler leaves only that one for the next subscriber of the group
// (before, the handled ones after it were requeued: duplicates).
func TestE2ECloseAcksHandled(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "closing", "")) })
	var mu sync.Mutex
	done := 0
	four := make(chan struct{})
	stop := subscribing(t, url, topic, func(ctx context.Context, m *herald.Message) error {
		if string(m.Payload) == "2" {
			<-ctx.Done() // in flight until the drain timeout
			return ctx.Err()
		}
		mu.Lock()
		defer mu.Unlock()
		if done++; done == 4 {
			close(four)
		}
		return nil
	}, subscriber.WithGroup("closing"), subscriber.WithWindow(8), subscriber.WithConcurrency(8), subscriber.WithDrainTimeout(200*time.Millisecond))
	p := openPublisher(t, url)
	for i := range 5 {
		m := newMsg(strconv.Itoa(i))
		herald.SetKey(m, "k"+strconv.Itoa(i))
		if err := p.Publish(t.Context(), topic, m); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-four:
	case <-time.After(10 * time.Second):
		t.Fatal("four messages not handled within 10s")
	}
	_ = stop()

	got := make(chan string, 10)
	subscribing(t, url, topic, func(_ context.Context, m *herald.Message) error { got <- string(m.Payload); return nil }, subscriber.WithGroup("closing"))
	select {
	case p := <-got:
		if p != "2" {
			t.Fatalf("the next subscriber got %q first; want only the unfinished 2", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the unfinished message did not come back")
	}
	select {
	case p := <-got:
		t.Fatalf("the next subscriber also got %q (handled before Close)", p)
	case <-time.After(500 * time.Millisecond):
	}
}
