// Package adaptertest is the conformance suite every Herald driver runs
// against a real backend. It turns the contract of the adapters package
// (adapters.Driver, Topic, Subscription, Stream) and the promises of the
// publisher and subscriber packages into tests, on two levels:
//
//   - RunDriver calls the driver directly (OpenTopic, OpenSubscription,
//     Send, Receive, Ack, Nack, Valid, Close), as the facade does;
//   - Run goes end to end through publisher.Open and subscriber.Open.
//
// Both skip what the backend does not do by the capabilities its driver
// declares (adapters.Capabilities, from Driver.Capabilities for the
// Suite's Target), never by flags written beside the driver: what the
// suite tests, the facade relies on and the docs' capability table says
// are one value.
//
//	func TestConformance(t *testing.T) {
//		s := adaptertest.Suite{Target: adaptertest.BrokerURL(t, "HERALD_TEST_NATS")}
//		t.Run("driver", func(t *testing.T) { adaptertest.RunDriver(t, s) })
//		t.Run("end-to-end", func(t *testing.T) { adaptertest.Run(t, s) })
//	}
//
// Every test uses fresh topic and group names, so the suites of several
// backends, and several runs, can share one broker.
package adaptertest

import (
	"context"
	"os"
	"testing"
	"time"
)

// Suite describes one backend under test. What the backend can do is not
// part of it: the suite asks the driver registered for Target's scheme
// (adapters.For, then Driver.Capabilities).
type Suite struct {
	// Target is the URL of the backend, without a group; the suite adds
	// groups and uses fresh topic names for every test.
	Target string
	// Restart, when set, restarts the broker keeping its data; the suite
	// then checks that a running publisher and subscriber lose nothing.
	Restart func(t *testing.T)
	// Wait bounds every wait for a message; 0 means 30s.
	Wait time.Duration
	// CrashTarget, when set, replaces Target in the subscriber-crash
	// test, typically with shorter session or ack timeouts
	// (kafka ...?session_timeout=6s, nats ...?ack_wait=3s) so that the
	// backend notices the dead consumer quickly.
	CrashTarget string
	// SharedStreamTarget, when set, is a Target whose backend keeps a
	// topic and its dead-letter topic "{topic}.dlq" in one store with
	// duplicate detection by message ID, such as one JetStream stream for
	// every topic (nats ...?stream=NAME, embedded ...?stream=ALL). The
	// dead-letter and same-ID tests run on it too: a dead-lettered copy, or
	// the same message published to a second topic, must not be dropped as
	// a duplicate while Publish reports success.
	SharedStreamTarget string
	// Cleanup, when set, deletes what the backend keeps for topics (and
	// their dead-letter topics "{topic}.dlq") and groups: a Kafka topic
	// or consumer group, a JetStream stream. Each test calls it once at
	// its end, after its clients were closed, with the names it made, so
	// that runs on a shared broker do not pile them up; a name the
	// backend does not have must be no error. An error is logged, never
	// fails the test.
	Cleanup func(ctx context.Context, topics, groups []string) error
	// CrashWait bounds the wait for the messages a killed subscriber
	// process held unacked, which the backend hands on only after the
	// consumer's session or ack timeout (Kafka session_timeout, JetStream
	// ack_wait); 0 means 2 x Wait.
	CrashWait time.Duration
}

// wait is s.Wait or its default.
func (s Suite) wait() time.Duration {
	if s.Wait > 0 {
		return s.Wait
	}
	return 30 * time.Second
}

// BrokerURL returns the URL in the environment variable env (for example
// HERALD_TEST_KAFKA). Under go test -short (make test-short) the test is
// skipped, whatever the environment: short runs never touch a broker. When
// env is unset the test is skipped with a hint on starting brokers, or
// fails when HERALD_REQUIRE_BROKERS=1 (CI).
func BrokerURL(t testing.TB, env string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: broker tests are skipped (" + env + ")")
	}
	if u := os.Getenv(env); u != "" {
		return u
	}
	MissingBroker(t, env+" is not set: start brokers with `scripts/brokers.sh up` and eval its exports (or `make brokers`)")
	return ""
}

// MissingBroker ends a test that cannot reach a broker (or a feature of
// one) it needs: skipped with msg, or failed under HERALD_REQUIRE_BROKERS=1
// (CI), where a missing broker is a failure.
func MissingBroker(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("HERALD_REQUIRE_BROKERS") == "1" {
		t.Fatal(msg + " (HERALD_REQUIRE_BROKERS=1: a missing broker is a failure)")
	}
	t.Skip(msg)
}

// RestartEnabled reports whether tests that restart a broker may run
// (HERALD_TEST_RESTART=1, and not go test -short). A restart cuts off every
// client of that broker, so scripts/test.sh runs these tests after the
// others, one package at a time; adapters' own restart tests should check
// it too. Call it from a test (it reads the -short flag).
func RestartEnabled() bool { return os.Getenv("HERALD_TEST_RESTART") == "1" && !testing.Short() }
