package wmtest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/tests"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/wmbridge"
)

// brokerURL is the URL in env, or a skip (a failure under
// HERALD_REQUIRE_BROKERS=1), as adaptertest.BrokerURL does.
func brokerURL(t testing.TB, env string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: broker tests are skipped (" + env + ")")
	}
	if u := os.Getenv(env); u != "" {
		return u
	}
	msg := env + " is not set: start brokers with `scripts/brokers.sh up` and eval its exports"
	if os.Getenv("HERALD_REQUIRE_BROKERS") == "1" {
		t.Fatal(msg + " (HERALD_REQUIRE_BROKERS=1: a missing broker is a failure)")
	}
	t.Skip(msg)
	return ""
}

// backend is a Herald target the Watermill view is tested on.
type backend struct {
	target string
	driver adapters.Driver
	cfg    herald.Config
	caps   adapters.Capabilities
}

func lookup(t testing.TB, target string) backend {
	t.Helper()
	cfg, err := herald.ParseURL(target)
	if err != nil {
		t.Fatal(err)
	}
	d, err := adapters.Lookup(cfg.Scheme)
	if err != nil {
		t.Fatal(err)
	}
	rest, _, err := adapters.SplitCommon(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(rest); err != nil {
		t.Fatal(err)
	}
	return backend{target: target, driver: d, cfg: cfg, caps: d.Capabilities(rest)}
}

// open opens a Watermill publisher and subscriber on b for group; both
// are closed at the end of t (Close is idempotent).
func (b backend) open(t testing.TB, group string, opts ...wmbridge.Option) (*wmbridge.Publisher, *wmbridge.Subscriber) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub, err := wmbridge.NewPublisher(ctx, b.driver, b.cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pub.Close() })
	cfg := b.cfg.Clone()
	cfg.Group = group
	sub, err := wmbridge.NewSubscriber(ctx, b.driver, cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	return pub, sub
}

// hold keeps one publisher open on b for the whole of t, for backends
// that live in the process (mem://, embedded://): the bus or server ends
// with its last user, as it would with the application's.
func (b backend) hold(t testing.TB) {
	if !b.caps.SingleProcess {
		return
	}
	pub, _ := b.open(t, "")
	_ = pub
}

// keyedByPayload sets each message's Herald key to its payload before
// publishing, as Watermill's own Kafka test of order does
// (NewWithPartitioningMarshaler keyed by payload): TestPublishSubscribeInOrder
// checks the order of the messages of each payload, which an OrderKey
// backend keeps per key.
type keyedByPayload struct{ message.Publisher }

func (p keyedByPayload) Publish(topic string, msgs ...*message.Message) error {
	keyed := make([]*message.Message, len(msgs))
	for i, m := range msgs {
		keyed[i] = m.Copy()
		herald.SetKey(keyed[i], string(m.Payload))
	}
	return p.Publisher.Publish(topic, keyed...)
}

// universal runs Watermill's universal suite on b with the Features its
// Capabilities give.
func universal(t *testing.T, b backend) {
	b.hold(t)
	group := "wm-" + watermill.NewShortUUID()
	f := Features(b.caps)
	t.Logf("%s: capabilities %+v -> features %+v", b.cfg.Scheme, b.caps, f)
	open := func(t *testing.T, g string) (message.Publisher, message.Subscriber) {
		pub, sub := b.open(t, g)
		if b.caps.Order == adapters.OrderKey {
			return keyedByPayload{pub}, sub
		}
		return pub, sub
	}
	tests.TestPubSub(t, f,
		func(t *testing.T) (message.Publisher, message.Subscriber) { return open(t, group) },
		open,
	)
}
