package kafka_test

import (
	"os/exec"
	"testing"
	"time"

	"github.com/heraldkit/herald/adapters/adaptertest"
	_ "github.com/heraldkit/herald/adapters/kafka"
)

// TestConformance runs the adapter conformance suite against the broker in
// HERALD_TEST_KAFKA (start one with scripts/brokers.sh up kafka).
func TestConformance(t *testing.T) {
	target := adaptertest.BrokerURL(t, "HERALD_TEST_KAFKA")
	adaptertest.Run(t, adaptertest.Suite{
		Target: target,
		// A killed member's partitions move after its session times out.
		CrashTarget: withQuery(target, "session_timeout=6s"),
		Features: adaptertest.Features{
			Durable:       true,
			Redelivery:    true,
			OrderedPerKey: true,
		},
		Restart: restartKafka,
	})
}

// restartKafka stops and starts the local broker, keeping its data.
func restartKafka(t *testing.T) {
	t.Helper()
	if !adaptertest.RestartEnabled() {
		t.Skip("restarts the shared broker, which cuts off every other test's clients: runs in the restart phase of scripts/test.sh (HERALD_TEST_RESTART=1)")
	}
	start := time.Now()
	out, err := exec.Command("../../scripts/brokers.sh", "restart", "kafka").CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/brokers.sh restart kafka: %v\n%s", err, out)
	}
	t.Logf("kafka restarted in %v", time.Since(start).Round(100*time.Millisecond))
}
