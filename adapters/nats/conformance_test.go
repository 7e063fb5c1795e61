package nats_test

import (
	"os/exec"
	"testing"
	"time"

	"github.com/heraldkit/herald/adapters/adaptertest"
)

// TestConformance runs the suite on JetStream (the default mode).
func TestConformance(t *testing.T) {
	adaptertest.Run(t, adaptertest.Suite{
		Target: brokerURL(t),
		// A killed subscriber's messages come back after ack_wait.
		CrashTarget: withQuery(brokerURL(t), "ack_wait=3s"),
		Features: adaptertest.Features{
			Durable:       true, // file streams, durable group consumers starting at the first retained message
			Redelivery:    true, // nack is a NAK; unacked messages are NAKed on stop
			OrderedPerKey: true, // one pull consumer per group delivers in stream order to a single subscription
		},
		Restart: restartNATS,

		SharedStreamTarget: withQuery(brokerURL(t), "stream=herald_conformance_shared&storage=memory"), // one stream for every topic and its .dlq
	})
}

// TestConformanceCore runs the suite on core NATS: at-most-once, so not
// durable and no redelivery.
func TestConformanceCore(t *testing.T) {
	adaptertest.Run(t, adaptertest.Suite{
		Target: withQuery(brokerURL(t), "mode=core"),
		Features: adaptertest.Features{
			OrderedPerKey: true, // one publisher connection to one subscription keeps order
		},
	})
}

// restartNATS restarts the test broker with the project's script, keeping
// its data.
func restartNATS(t *testing.T) {
	t.Helper()
	if !adaptertest.RestartEnabled() {
		t.Skip("restarts the shared broker, which cuts off every other test's clients: runs in the restart phase of scripts/test.sh (HERALD_TEST_RESTART=1)")
	}
	start := time.Now()
	out, err := exec.Command("../../scripts/brokers.sh", "restart", "nats").CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/brokers.sh restart nats: %v\n%s", err, out)
	}
	t.Logf("broker restarted in %v", time.Since(start).Round(time.Millisecond))
}
