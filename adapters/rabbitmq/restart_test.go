//go:build facade

package rabbitmq

import (
	"testing"
	"time"

	"github.com/heraldkit/herald/adapters/adaptertest"
)

// TestRestartPrivateSubscriberResumes: after a broker restart, a
// subscriber without a group (whose exclusive queue the restart deleted)
// and one with a group both consume again, on the same Subscribe
// channels, from the same publisher.
func TestRestartPrivateSubscriberResumes(t *testing.T) {
	url := brokerURL(t)
	if !adaptertest.RestartEnabled() {
		t.Skip("broker restarts run in their own phase: HERALD_TEST_RESTART=1 (scripts/test.sh does this)")
	}
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "rs", "")) })
	pub := openPub(t, url)
	private := openSub(t, url)
	grouped := openSub(t, withQuery(url, "group=rs"))
	pch, err := private.Subscribe(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	gch, err := grouped.Subscribe(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(topic, newMsg("before")); err != nil {
		t.Fatal(err)
	}
	receive(t, pch, 10*time.Second).Ack()
	receive(t, gch, 10*time.Second).Ack()

	restartBroker(t)

	// Publish until the private subscriber has its queue back; the group
	// gets every message whose publish succeeded.
	deadline := time.Now().Add(60 * time.Second)
	published := 0
	for {
		if time.Now().After(deadline) {
			t.Fatal("the private subscriber did not resume within 60s of the restart")
		}
		if err := pub.Publish(topic, newMsg("after")); err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		published++
		select {
		case m := <-pch:
			m.Ack()
		case <-time.After(200 * time.Millisecond):
			continue
		}
		break
	}
	for range published {
		receive(t, gch, 30*time.Second).Ack()
	}
	t.Logf("resumed after %d successful publishes", published)
}
