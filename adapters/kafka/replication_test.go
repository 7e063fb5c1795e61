package kafka

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/heraldkit/herald"
)

// dynamicTopicConfig is kmsg.ConfigSourceDynamicTopicConfig: a setting of
// the topic itself (kmsg is not imported directly by this module).
const dynamicTopicConfig = 1

// TestTopicReplicationBrokerDefaults: on a single broker, replication
// auto leaves the topic to the broker's defaults (replication factor 1,
// no min.insync.replicas of its own), and explicit values are sent.
// (The 3-broker case is in adapters/clustertest: 3 replicas and
// min.insync.replicas 2.)
func TestTopicReplicationBrokerDefaults(t *testing.T) {
	base := brokerURL(t)
	for _, tc := range []struct {
		query   string
		wantMin string // "" : not set on the topic
	}{
		{"", ""},
		{"replicas=1&min_insync_replicas=1", "1"},
	} {
		pub := openTopic(t, withQuery(base, tc.query))
		topic := uniqueName("repl")
		sendSync(t, pub, topic, herald.NewMessage([]byte("x")))
		var adm *kadm.Client
		if !pub.As(&adm) {
			t.Fatal("no *kadm.Client")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		md, err := adm.Metadata(ctx, topic)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		for _, p := range md.Topics[topic].Partitions {
			if len(p.Replicas) != 1 {
				t.Errorf("%q: partition %d has %d replicas on a single broker", tc.query, p.Partition, len(p.Replicas))
			}
		}
		rcs, err := adm.DescribeTopicConfigs(ctx, topic)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		rc, err := rcs.On(topic, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, c := range rc.Configs {
			if c.Key == "min.insync.replicas" && c.Source == dynamicTopicConfig {
				got = c.MaybeValue()
			}
		}
		if got != tc.wantMin {
			t.Errorf("%q: topic's own min.insync.replicas %q, want %q", tc.query, got, tc.wantMin)
		}
	}
}
