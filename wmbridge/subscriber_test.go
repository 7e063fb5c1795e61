package wmbridge_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/wmbridge"
)

// open opens a Watermill publisher and subscriber on target (the
// subscriber with group), closed at the end of t.
func open(t *testing.T, target, group string, opts ...wmbridge.Option) (*wmbridge.Publisher, *wmbridge.Subscriber) {
	t.Helper()
	ctx := context.Background()
	pub, err := wmbridge.OpenPublisher(ctx, target, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pub.Close() })
	subTarget := target
	if group != "" {
		sep := "?"
		if strings.Contains(target, "?") {
			sep = "&"
		}
		subTarget += sep + "group=" + group
	}
	sub, err := wmbridge.OpenSubscriber(ctx, subTarget, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	return pub, sub
}

func receive(t *testing.T, msgs <-chan *message.Message) *message.Message {
	t.Helper()
	select {
	case m, ok := <-msgs:
		if !ok {
			t.Fatal("the channel closed")
		}
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no message within 10s")
	}
	return nil
}

func uniqueTopic() string { return "t-" + watermill.NewShortUUID() }

// On a RedeliverLocal backend (mem) a nacked message comes again on the
// same channel, after the nack delay, before the later messages of its
// key, and each delivery's Context ends when it is settled.
func TestNackLocalRedeliversBeforeLaterMessages(t *testing.T) {
	pub, sub := open(t, "mem://wmbridge-local", "g", wmbridge.WithNackDelay(20*time.Millisecond))
	if sub.Capabilities().Redelivery != adapters.RedeliverLocal {
		t.Fatal("mem:// should be RedeliverLocal")
	}
	topic := uniqueTopic()
	if err := sub.SubscribeInitialize(topic); err != nil {
		t.Fatal(err)
	}
	var sent []*message.Message
	for i := range 3 {
		m := message.NewMessage(fmt.Sprint(i), []byte("x"))
		herald.SetKey(m, "K")
		sent = append(sent, m)
	}
	if err := pub.Publish(topic, sent...); err != nil {
		t.Fatal(err)
	}
	msgs, err := sub.Subscribe(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	first := receive(t, msgs)
	got = append(got, first.UUID)
	nacked := time.Now()
	first.Nack()
	select {
	case <-first.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the Context of a nacked message was not cancelled")
	}
	for range 3 {
		m := receive(t, msgs)
		if len(got) == 1 && time.Since(nacked) < 20*time.Millisecond {
			t.Errorf("redelivered %v after the nack, before the 20ms delay", time.Since(nacked))
		}
		got = append(got, m.UUID)
		m.Ack()
		<-m.Context().Done()
	}
	if fmt.Sprint(got) != "[0 0 1 2]" {
		t.Fatalf("handled %v, want [0 0 1 2]: the nacked message first, then the later ones in order", got)
	}
}

// On a RedeliverBroker backend (GoChannel through NewDriver) a nacked
// message goes back to the Pub/Sub after the nack delay and comes again;
// later messages are not held back meanwhile.
func TestNackBrokerRedelivers(t *testing.T) {
	pub, sub := open(t, "wmgochannel://wmbridge-broker", "", wmbridge.WithNackDelay(200*time.Millisecond))
	if sub.Capabilities().Redelivery != adapters.RedeliverBroker {
		t.Fatal("wmgochannel:// should be RedeliverBroker")
	}
	topic := uniqueTopic()
	msgs, err := sub.Subscribe(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(topic, message.NewMessage("a", []byte("x"))); err != nil {
		t.Fatal(err)
	}
	m := receive(t, msgs)
	m.Nack()
	if err := pub.Publish(topic, message.NewMessage("b", []byte("x"))); err != nil {
		t.Fatal(err)
	}
	next := receive(t, msgs)
	next.Ack()
	if next.UUID != "b" {
		t.Fatalf("got %s while a's nack was held, want b", next.UUID)
	}
	again := receive(t, msgs)
	again.Ack()
	if again.UUID != "a" {
		t.Fatalf("got %s, want a again", again.UUID)
	}
}

// The Context of a message being handled ends when the subscriber
// closes, and the channel is closed once Close returned.
func TestCloseEndsMessageContextAndChannel(t *testing.T) {
	pub, sub := open(t, "mem://wmbridge-close", "g")
	topic := uniqueTopic()
	msgs, err := sub.Subscribe(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(topic, message.NewMessage("a", []byte("x"))); err != nil {
		t.Fatal(err)
	}
	m := receive(t, msgs)
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-m.Context().Done():
	default:
		t.Fatal("the Context of the message being handled is still live after Close")
	}
	select {
	case _, ok := <-msgs:
		if ok {
			t.Fatal("a message after Close")
		}
	default:
		t.Fatal("the channel is not closed after Close returned")
	}
	if _, err := sub.Subscribe(context.Background(), topic); !errors.Is(err, herald.ErrClosed) {
		t.Fatalf("Subscribe after Close: %v, want herald.ErrClosed", err)
	}
	if err := sub.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// Publish gives up at the publish timeout with the driver's typed error:
// mem:// with a full group queue never takes the message.
func TestPublishTimeout(t *testing.T) {
	pub, sub := open(t, "mem://wmbridge-timeout?buffer=1", "g", wmbridge.WithPublishTimeout(150*time.Millisecond))
	topic := uniqueTopic()
	if err := sub.SubscribeInitialize(topic); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(topic, message.NewMessage("fills", nil)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := pub.Publish(topic, message.NewMessage("waits", nil))
	took := time.Since(start)
	var he *herald.Error
	if !errors.As(err, &he) {
		t.Fatalf("Publish to a full queue: %v, want a *herald.Error", err)
	}
	if took < 150*time.Millisecond || took > 5*time.Second {
		t.Fatalf("Publish returned after %v, want the 150ms publish timeout", took)
	}
	t.Logf("after %v: %v (kind %s)", took, err, he.Kind)
}

// Options with bad values are refused at construction.
func TestOptionsValidated(t *testing.T) {
	for name, o := range map[string]wmbridge.Option{
		"timeout": wmbridge.WithPublishTimeout(0),
		"delay":   wmbridge.WithNackDelay(-time.Second),
		"window":  wmbridge.WithWindow(0),
		"close":   wmbridge.WithCloseTimeout(-1),
		"logger":  wmbridge.WithLogger(nil),
	} {
		if _, err := wmbridge.OpenPublisher(context.Background(), "mem://wmbridge-opts", o); err == nil {
			t.Errorf("%s: a bad option was accepted", name)
		}
	}
	if _, err := wmbridge.OpenSubscriber(context.Background(), "mem://wmbridge-opts?nope=1"); !errors.Is(err, herald.ErrInvalidConfig) {
		t.Errorf("an unknown URL option: %v, want herald.ErrInvalidConfig", err)
	}
}
