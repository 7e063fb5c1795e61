package adaptertest

import (
	"crypto/rand"
	"encoding/hex"
	"testing"
)

// EachBackend runs fn, in parallel subtests named mem, embedded, kafka,
// rabbitmq and nats, on a target of each backend: a private mem:// bus
// named from prefix, an embedded broker in a temporary directory, and the
// shared brokers of HERALD_TEST_KAFKA, HERALD_TEST_AMQP and
// HERALD_TEST_NATS (BrokerURL: skipped when unset, failed under
// HERALD_REQUIRE_BROKERS=1).
func EachBackend(t *testing.T, prefix string, fn func(t *testing.T, target string)) {
	backends := []struct {
		name   string
		target func(t *testing.T) string
	}{
		{"mem", func(*testing.T) string { return "mem://" + UniqueName(prefix) }},
		{"embedded", func(t *testing.T) string { return "embedded://" + t.TempDir() }},
		{"kafka", func(t *testing.T) string { return BrokerURL(t, "HERALD_TEST_KAFKA") }},
		{"rabbitmq", func(t *testing.T) string { return BrokerURL(t, "HERALD_TEST_AMQP") }},
		{"nats", func(t *testing.T) string { return BrokerURL(t, "HERALD_TEST_NATS") }},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			fn(t, b.target(t))
		})
	}
}

// UniqueName returns prefix, a dot and 10 random hex digits.
func UniqueName(prefix string) string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return prefix + "." + hex.EncodeToString(b[:])
}
