package rabbitmq

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/adaptertest"
)

// brokerURL returns HERALD_TEST_AMQP or skips (fails under
// HERALD_REQUIRE_BROKERS=1).
func brokerURL(t testing.TB) string {
	t.Helper()
	return adaptertest.BrokerURL(t, "HERALD_TEST_AMQP")
}

// withQuery adds query parameters to a target URL.
func withQuery(target, query string) string {
	if query == "" {
		return target
	}
	if strings.Contains(target, "?") {
		return target + "&" + query
	}
	return target + "?" + query
}

// freshTopic returns a topic name no other test uses.
func freshTopic(t testing.TB) string {
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	return "herald-test." + name + "." + strings.ToLower(watermill.NewShortUUID())
}

func openPub(t testing.TB, target string) message.Publisher {
	t.Helper()
	pub, err := adapters.OpenPublisher(context.Background(), target)
	if err != nil {
		t.Fatalf("open publisher: %v", err)
	}
	t.Cleanup(func() { _ = pub.Close() })
	return pub
}

func openSub(t testing.TB, target string) message.Subscriber {
	t.Helper()
	sub, err := adapters.OpenSubscriber(context.Background(), target)
	if err != nil {
		t.Fatalf("open subscriber: %v", err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	return sub
}

// receive reads one message from ch within d.
func receive(t testing.TB, ch <-chan *message.Message, d time.Duration) *message.Message {
	t.Helper()
	select {
	case m, ok := <-ch:
		if !ok {
			t.Fatal("subscription channel closed")
		}
		return m
	case <-time.After(d):
		t.Fatalf("no message within %v", d)
	}
	return nil
}

func newMsg(payload string) *message.Message { return herald.NewMessage([]byte(payload)) }

// brokerURLOrEmpty returns HERALD_TEST_AMQP without skipping ("" under
// -short, which never touches a broker).
func brokerURLOrEmpty() string {
	if testing.Short() {
		return ""
	}
	return os.Getenv("HERALD_TEST_AMQP")
}
