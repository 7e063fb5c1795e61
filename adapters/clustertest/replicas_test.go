package clustertest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/publisher"
)

// TestNATSReplicasAutoOneHost: a URL naming one server of a 3-server
// cluster still gets 3 replicas for the streams Herald creates (the
// cluster advertises its other servers), and replicas=1 is honoured.
func TestNATSReplicasAutoOneHost(t *testing.T) {
	Open(t, NATS)
	host := os.Getenv("HERALD_CLUSTER_NODES_NATS1")
	if host == "" {
		t.Fatal("HERALD_CLUSTER_NODES_NATS1 is not set (scripts/cluster.sh env prints it)")
	}
	for _, tc := range []struct {
		query string
		want  int
	}{{"", 3}, {"?replicas=1", 1}} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		pub, err := publisher.Open(ctx, "nats://"+host+tc.query)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		topic := "cluster-replicas-" + randomSuffix()
		if err := pub.Publish(ctx, topic, herald.NewMessage([]byte("x"))); err != nil {
			t.Fatalf("%q: publish: %v", tc.query, err)
		}
		var js jetstream.JetStream
		if !pub.As(&js) {
			t.Fatal("no JetStream")
		}
		name, err := js.StreamNameBySubject(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		st, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.CachedInfo().Config.Replicas; got != tc.want {
			t.Errorf("%q: stream %s has %d replicas, want %d", tc.query, name, got, tc.want)
		}
		_ = js.DeleteStream(ctx, name)
		_ = pub.Close()
		cancel()
	}
}
