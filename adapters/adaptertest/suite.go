// Package adaptertest is the conformance suite every Herald adapter runs
// against a real backend. It turns the contract in the adapters package
// documentation into tests, with Features flags for what a backend cannot
// do.
//
//	func TestConformance(t *testing.T) {
//		adaptertest.Run(t, adaptertest.Suite{
//			Target:   adaptertest.BrokerURL(t, "HERALD_TEST_NATS"),
//			Features: adaptertest.Features{Durable: true, Redelivery: true},
//		})
//	}
package adaptertest

import (
	"os"
	"testing"
	"time"
)

// Features says what a backend can do; tests of a missing feature are
// skipped with the reason, and tests of the opposite behaviour may run
// instead.
type Features struct {
	// Durable: messages survive with no subscriber running: published
	// before a group's first subscriber or left unacked when a subscriber
	// closes, they are delivered to the group's next subscriber.
	Durable bool
	// Redelivery: a handler error (nack) leads to the message being
	// delivered again.
	Redelivery bool
	// OrderedPerKey: with concurrency 1, messages with the same key are
	// handled in publish order.
	OrderedPerKey bool
	// SingleProcess: the backend lives inside one process (embedded,
	// memory), so tests that need a second process are skipped.
	SingleProcess bool
	// MaxPayload is the largest payload the backend accepts; 0 means at
	// least 1 MiB.
	MaxPayload int
}

// Suite describes one backend under test.
type Suite struct {
	// Target is the URL of the backend, without a group; the suite adds
	// groups and uses fresh topic names for every test.
	Target string
	// Features are the backend's capabilities.
	Features Features
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
	// CrashWait bounds the wait for the messages a killed subscriber
	// process held unacked, which the backend hands on only after the
	// consumer's session or ack timeout (Kafka session_timeout, JetStream
	// ack_wait); 0 means 2 x Wait.
	CrashWait time.Duration
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
	msg := env + " is not set: start brokers with `scripts/brokers.sh up` and eval its exports (or `make brokers`)"
	if os.Getenv("HERALD_REQUIRE_BROKERS") == "1" {
		t.Fatal(msg + " (HERALD_REQUIRE_BROKERS=1: a missing broker is a failure)")
	}
	t.Skip(msg)
	return ""
}
