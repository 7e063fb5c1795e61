package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	wamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// consumers returns how many consumers the broker has for queue, asking on
// the subscriber's own connection (private queues are exclusive to it).
func consumers(t *testing.T, sub message.Subscriber, queue string) int {
	t.Helper()
	var conn *amqp.Connection
	if !sub.(interface{ As(any) bool }).As(&conn) {
		t.Fatal("As(**amqp091.Connection) failed")
	}
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	q, err := ch.QueueDeclarePassive(queue, false, false, false, false, nil)
	if err != nil {
		t.Fatalf("inspect queue %q: %v", queue, err)
	}
	return q.Consumers
}

// TestSubscribeRegistersConsumer: when Subscribe returns, the broker
// already counts the consumer, with and without a group.
func TestSubscribeRegistersConsumer(t *testing.T) {
	url := brokerURL(t)
	for _, group := range []string{"", "reg"} {
		t.Run("group="+group, func(t *testing.T) {
			topic := freshTopic(t)
			target := url
			if group != "" {
				target = withQuery(url, "group="+group)
			}
			sub := openSub(t, target)
			queue := queueName(topic, group, sub.(*subscriber).privateID)
			if group != "" {
				t.Cleanup(func() { deleteTopology(t, topic, queue) })
			}
			for i := 1; i <= 3; i++ {
				if _, err := sub.Subscribe(t.Context(), topic); err != nil {
					t.Fatal(err)
				}
				if n := consumers(t, sub, queue); n != i {
					t.Fatalf("after Subscribe #%d the queue has %d consumers", i, n)
				}
			}
		})
	}
}

// TestPrivateSubscriptionsCompete: Subscribe calls on one subscriber
// without a group share one private queue: each message reaches one of
// them; a second subscriber gets its own copy.
func TestPrivateSubscriptionsCompete(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic) })
	pub := openPub(t, url)
	subA, subB := openSub(t, url), openSub(t, url)
	var mu sync.Mutex
	seenA, seenB := map[string]int{}, map[string]int{}
	perSub := map[string]int{}
	var wg sync.WaitGroup
	const n = 60
	wg.Add(2 * n)
	listen := func(sub message.Subscriber, seen map[string]int, name string) {
		ch, err := sub.Subscribe(t.Context(), topic)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for m := range ch {
				mu.Lock()
				seen[m.UUID]++
				perSub[name]++
				first := seen[m.UUID] == 1
				mu.Unlock()
				m.Ack()
				if first {
					wg.Done()
				}
			}
		}()
	}
	for i := range 3 {
		listen(subA, seenA, fmt.Sprintf("a%d", i))
	}
	listen(subB, seenB, "b")
	for i := range n {
		if err := pub.Publish(topic, newMsg(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	waitGroup(t, &wg, 20*time.Second)
	time.Sleep(200 * time.Millisecond) // let any duplicate arrive
	mu.Lock()
	defer mu.Unlock()
	for id, c := range seenA {
		if c != 1 {
			t.Errorf("subscriber A got %s %d times", id, c)
		}
	}
	if len(seenA) != n || len(seenB) != n {
		t.Errorf("A got %d, B got %d distinct messages; want %d each", len(seenA), len(seenB), n)
	}
	// RabbitMQ round-robins a queue's messages over its consumers: each
	// of A's three subscriptions gets some, and together exactly n.
	if sum := perSub["a0"] + perSub["a1"] + perSub["a2"]; sum != n {
		t.Errorf("A's subscriptions got %d deliveries in all, want %d: %v", sum, n, perSub)
	}
	for _, name := range []string{"a0", "a1", "a2"} {
		if perSub[name] == 0 {
			t.Errorf("subscription %s got no message: the split %v is not shared", name, perSub)
		}
	}
}

func waitGroup(t *testing.T, wg *sync.WaitGroup, d time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("not all messages within %v", d)
	}
}

// TestNackKeepsOrder: one consumer with the default prefetch; nacking a
// message redelivers it before the messages behind it.
func TestNackKeepsOrder(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "order", "")) })
	pub := openPub(t, url)
	sub := openSub(t, withQuery(url, "group=order"))
	ch, err := sub.Subscribe(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	msgs := make([]*message.Message, n)
	for i := range msgs {
		msgs[i] = newMsg(fmt.Sprint(i))
	}
	if err := pub.Publish(topic, msgs...); err != nil {
		t.Fatal(err)
	}
	var order []string
	nacked := map[string]bool{}
	for len(order) < n {
		m := receive(t, ch, 10*time.Second)
		p := string(m.Payload)
		if (p == "3" || p == "17" || p == "40") && !nacked[p] {
			nacked[p] = true
			m.Nack()
			continue
		}
		order = append(order, p)
		m.Ack()
	}
	for i, p := range order {
		if p != fmt.Sprint(i) {
			t.Fatalf("position %d holds message %s: order %v", i, p, order)
		}
	}
}

// TestNackDelay: a nack with a delay (herald.RetryAfter) is redelivered
// after about that delay.
func TestNackDelay(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "delay", "")) })
	pub := openPub(t, url)
	sub := openSub(t, withQuery(url, "group=delay"))
	ch, err := sub.Subscribe(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(topic, newMsg("later")); err != nil {
		t.Fatal(err)
	}
	m := receive(t, ch, 10*time.Second)
	start := time.Now()
	adapters.SetNackDelay(m, 300*time.Millisecond)
	m.Nack()
	m = receive(t, ch, 10*time.Second)
	m.Ack()
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("redelivered after %v; want >= 300ms", d)
	}
	if m.Metadata.Get(RedeliveredHeader) != "true" {
		t.Errorf("redelivered flag missing: %v", m.Metadata)
	}
}

// TestAckBeforeCloseIsNotRedelivered: a message acked right before Close
// is acked at the broker, never requeued.
func TestAckBeforeCloseIsNotRedelivered(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "ackclose", "")) })
	pub := openPub(t, url)
	for i := range 10 {
		sub, err := adapters.OpenSubscriber(t.Context(), withQuery(url, "group=ackclose"))
		if err != nil {
			t.Fatal(err)
		}
		ch, err := sub.Subscribe(t.Context(), topic)
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprint(i)
		if err := pub.Publish(topic, newMsg(want)); err != nil {
			t.Fatal(err)
		}
		m := receive(t, ch, 10*time.Second)
		if string(m.Payload) != want {
			t.Fatalf("round %d: got message %q again, want %q", i, m.Payload, want)
		}
		m.Ack()
		if err := sub.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestQuorumQueue: queue_type=quorum declares the group queue as a
// quorum queue; messages flow and nacks redeliver.
func TestQuorumQueue(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "qq", "")) })
	pub := openPub(t, url)
	sub := openSub(t, withQuery(url, "group=qq&queue_type=quorum"))
	ch, err := sub.Subscribe(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(topic, newMsg("q")); err != nil {
		t.Fatal(err)
	}
	m := receive(t, ch, 10*time.Second)
	m.Nack()
	m = receive(t, ch, 10*time.Second)
	m.Ack()
	// Declaring it again as classic must fail: it really is a quorum queue.
	raw := rawChannel(t)
	_, err = raw.QueueDeclare(queueName(topic, "qq", ""), true, false, false, false, nil)
	var aerr *amqp.Error
	if !errors.As(err, &aerr) || aerr.Code != amqp.PreconditionFailed {
		t.Errorf("re-declaring the queue as classic: %v; want PRECONDITION_FAILED", err)
	}
}

// TestAs: the escape hatch reaches the amqp091 connection and the
// watermill-amqp Config, and never dials a connection of its own.
func TestAs(t *testing.T) {
	url := brokerURL(t)
	pub := openPub(t, url)
	sub := openSub(t, withQuery(url, "group=as"))
	type aser interface{ As(any) bool }
	for name, x := range map[string]aser{"publisher": pub.(aser), "subscriber": sub.(aser)} {
		var conn *amqp.Connection
		var cfg wamqp.Config
		if !x.As(&conn) || conn == nil || conn.IsClosed() {
			t.Errorf("%s: As(**amqp091.Connection)", name)
		}
		if !x.As(&cfg) || cfg.Exchange.Type != "fanout" {
			t.Errorf("%s: As(*amqp.Config)", name)
		}
		var other *string
		if x.As(&other) {
			t.Errorf("%s: As(**string) = true", name)
		}
	}
	// As never dials: watermill-amqp's Publisher and Subscriber are not
	// targets (each would need a connection of its own); build them from
	// the Config, explicitly.
	var wp *wamqp.Publisher
	if pub.(aser).As(&wp) {
		t.Error("As(**amqp.Publisher) = true")
	}
	var cfg wamqp.Config
	if !sub.(aser).As(&cfg) {
		t.Fatal("As(*amqp.Config)")
	}
	wp, err := wamqp.NewPublisher(cfg, nopLogger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = wp.Close() })
	ws, err := wamqp.NewSubscriber(cfg, nopLogger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.Close() })
	// The watermill-amqp objects work on the same topology.
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "as", "")) })
	ch, err := ws.Subscribe(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	// Subscribe declared and bound the queue before returning: a message
	// published now waits there for the consumer.
	m := newMsg("via watermill")
	herald.SetKey(m, "wk")
	if err := wp.Publish(topic, m); err != nil {
		t.Fatal(err)
	}
	got := receive(t, ch, 10*time.Second)
	got.Ack()
	if got.UUID != m.UUID || herald.Key(got) != "wk" {
		t.Errorf("got %s %v", got.UUID, got.Metadata)
	}
}

// TestClosed: Publish and Subscribe after Close return herald.ErrClosed,
// Close is idempotent.
func TestClosed(t *testing.T) {
	url := brokerURL(t)
	pub := openPub(t, url)
	sub := openSub(t, url)
	for range 2 {
		if err := pub.Close(); err != nil {
			t.Fatal(err)
		}
		if err := sub.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Publish("x", newMsg("x")); !errors.Is(err, herald.ErrClosed) {
		t.Errorf("Publish after Close: %v", err)
	}
	if _, err := sub.Subscribe(context.Background(), "x"); !errors.Is(err, herald.ErrClosed) {
		t.Errorf("Subscribe after Close: %v", err)
	}
}

// TestSubscribeInitialize: a group queue declared ahead keeps messages
// published before the group's first Subscribe.
func TestSubscribeInitialize(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "init", "")) })
	sub := openSub(t, withQuery(url, "group=init"))
	if err := sub.(message.SubscribeInitializer).SubscribeInitialize(topic); err != nil {
		t.Fatal(err)
	}
	m := newMsg("early")
	if err := openPub(t, url).Publish(topic, m); err != nil {
		t.Fatal(err)
	}
	ch, err := sub.Subscribe(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	got := receive(t, ch, 10*time.Second)
	got.Ack()
	if got.UUID != m.UUID {
		t.Errorf("got %s, want %s", got.UUID, m.UUID)
	}
}
