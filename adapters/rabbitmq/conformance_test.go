//go:build facade

package rabbitmq

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/heraldkit/herald/adapters/adaptertest"
)

func TestConformance(t *testing.T) {
	adaptertest.Run(t, adaptertest.Suite{
		Target: brokerURL(t),
		Features: adaptertest.Features{
			Durable:       true, // durable group queues, persistent messages
			Redelivery:    true, // nack requeues
			OrderedPerKey: true, // one consumer of a classic queue; kept across nacks (see nack)
		},
		Restart: restartBroker,
	})
}

// restartBroker restarts RabbitMQ keeping its data: with the project's
// script, or with the shell command in HERALD_TEST_AMQP_RESTART (for a
// broker the script does not manage).
func restartBroker(t *testing.T) {
	t.Helper()
	if !adaptertest.RestartEnabled() {
		t.Skip("restarts the shared broker, which cuts off every other test's clients: runs in the restart phase of scripts/test.sh (HERALD_TEST_RESTART=1)")
	}
	start := time.Now()
	cmd := exec.Command("../../scripts/brokers.sh", "restart", "rabbitmq")
	if c := os.Getenv("HERALD_TEST_AMQP_RESTART"); c != "" {
		cmd = exec.Command("sh", "-c", c)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	t.Logf("broker restarted in %v", time.Since(start).Round(time.Millisecond))
}
