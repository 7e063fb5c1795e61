package wmtest

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"strings"
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

// withOption adds the URL option kv ("name=value") to target.
func withOption(target, kv string) string {
	if strings.Contains(target, "?") {
		return target + "&" + kv
	}
	return target + "?" + kv
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
	t.Parallel() // each backend's run waits mostly on its broker
	b.hold(t)
	run := watermill.NewShortUUID()
	f := Features(b.caps)
	// The suite's short counts (ForceShort): 100 messages instead of
	// 5000 across 10 subscribers instead of 50 (TestConcurrentSubscribe),
	// 100 instead of 1000 (TestPublishSubscribeInOrder), 100 instead of
	// 10000 (TestPublisherClose), 50 topics instead of 100
	// (TestConcurrentSubscribeMultipleTopics); every test still runs.
	f.ForceShort = true
	t.Logf("%s: capabilities %+v -> features %+v", b.cfg.Scheme, b.caps, f)
	open := func(t *testing.T, g string) (message.Publisher, message.Subscriber) {
		pub, sub := b.open(t, g)
		if b.caps.Order == adapters.OrderKey {
			return keyedByPayload{pub}, sub
		}
		return pub, sub
	}
	// The Pub/Subs of one test share a group, one per test: the suite's
	// tests run in parallel, and on Kafka every member that joins or
	// leaves a group stops the whole group for a rebalance.
	tests.TestPubSub(t, f,
		func(t *testing.T) (message.Publisher, message.Subscriber) { return open(t, testGroup(run, t)) },
		open,
	)
}

// testGroup is the group of the suite's test t (its name, less the
// per-run test ID the suite appends, hashed): the same for every
// Pub/Sub the test makes.
func testGroup(run string, t *testing.T) string {
	h := fnv.New32a()
	h.Write([]byte(t.Name()))
	return fmt.Sprintf("wm-%s-%08x", run, h.Sum32())
}
