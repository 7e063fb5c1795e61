package rabbitmq

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/subscriber"
)

// restartEnabled reports whether tests that restart the broker may run
// (HERALD_TEST_RESTART=1, not -short): a restart cuts off every other
// client of the shared broker, so scripts/test.sh runs them in a phase of
// their own.
func restartEnabled() bool { return os.Getenv("HERALD_TEST_RESTART") == "1" && !testing.Short() }

// restartBroker restarts RabbitMQ keeping its data: with the project's
// script, or with the shell command in HERALD_TEST_AMQP_RESTART (for a
// broker the script does not manage).
func restartBroker(t *testing.T) {
	t.Helper()
	if !restartEnabled() {
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

// TestRestartPrivateSubscriberResumes: after a broker restart, a
// subscriber without a group (whose exclusive queue the restart deleted)
// and one with a group both consume again, from the same publisher,
// without the application doing anything.
func TestRestartPrivateSubscriberResumes(t *testing.T) {
	url := brokerURL(t)
	if !restartEnabled() {
		t.Skip("broker restarts run in their own phase: HERALD_TEST_RESTART=1 (scripts/test.sh does this)")
	}
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "rs", "")) })
	pub := openPublisher(t, url)
	private, grouped := make(chan string, 100), make(chan string, 100)
	subscribing(t, url, topic, func(_ context.Context, m *herald.Message) error { private <- string(m.Payload); return nil })
	subscribing(t, url, topic, func(_ context.Context, m *herald.Message) error { grouped <- string(m.Payload); return nil }, subscriber.WithGroup("rs"))
	if err := pub.Publish(t.Context(), topic, newMsg("before")); err != nil {
		t.Fatal(err)
	}
	<-private
	<-grouped

	restartBroker(t)

	// Publish until the private subscriber has its queue back; the group
	// gets every message whose publish succeeded.
	deadline := time.Now().Add(60 * time.Second)
	published := 0
	for {
		if time.Now().After(deadline) {
			t.Fatal("the private subscriber did not resume within 60s of the restart")
		}
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		err := pub.Publish(ctx, topic, newMsg("after"))
		cancel()
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		published++
		select {
		case <-private:
		case <-time.After(200 * time.Millisecond):
			continue
		}
		break
	}
	for range published {
		select {
		case <-grouped:
		case <-time.After(30 * time.Second):
			t.Fatal("the group lost a message published after the restart")
		}
	}
	t.Logf("resumed after %d successful publishes", published)
}
