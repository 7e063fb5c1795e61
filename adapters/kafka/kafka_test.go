package kafka

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/heraldkit/herald/adapters/adaptertest"
)

// TestConformance runs the conformance suite against the broker in
// HERALD_TEST_KAFKA (start one with scripts/brokers.sh up kafka), at the
// driver level and end to end; what it checks follows
// Driver.Capabilities.
func TestConformance(t *testing.T) {
	target := adaptertest.BrokerURL(t, "HERALD_TEST_KAFKA")
	s := adaptertest.Suite{
		Target: target,
		// A killed member's partitions move after its session times out.
		CrashTarget: withQuery(target, "session_timeout=6s"),
		Restart:     restartKafka,
		Cleanup: func(ctx context.Context, topics, groups []string) error {
			var all []string
			for _, tp := range topics {
				all = append(all, tp, tp+".dlq")
			}
			return deleteAll(ctx, all, groups)
		},
	}
	t.Run("driver", func(t *testing.T) { adaptertest.RunDriver(t, s) })
	t.Run("end-to-end", func(t *testing.T) { adaptertest.Run(t, s) })
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

// TestPrivateBrokerConformance runs the conformance suite, its broker
// restart included, against a private broker that it kills (SIGKILL) and
// starts again: the shared broker is not touched. It runs in the restart
// phase (HERALD_TEST_RESTART=1) since it takes about a minute.
func TestPrivateBrokerConformance(t *testing.T) {
	brokerURL(t)
	if !adaptertest.RestartEnabled() {
		t.Skip("kills and restarts a private broker (about a minute): runs with HERALD_TEST_RESTART=1 (scripts/test.sh)")
	}
	// The crash test runs this test again in a child process: the child
	// uses the parent's broker.
	const env = "HERALD_TEST_KAFKA_PRIVATE_URL"
	url := os.Getenv(env)
	var b *privateBroker
	if url == "" {
		b = startPrivateBroker(t)
		url = b.url()
		_ = os.Setenv(env, url)
		t.Cleanup(func() { _ = os.Unsetenv(env) })
	}
	adaptertest.Run(t, adaptertest.Suite{
		Target:      url,
		CrashTarget: withQuery(url, "session_timeout=6s"),
		Restart: func(t *testing.T) {
			if b == nil {
				t.Skip("the crash test's child process does not restart the broker")
			}
			start := time.Now()
			b.kill()
			b.start()
			t.Logf("private broker killed and started again in %v", time.Since(start).Round(100*time.Millisecond))
		},
	})
}
