package clustertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/twmb/franz-go/pkg/kadm"

	_ "github.com/heraldkit/herald/adapters/all"
)

// Figures of one kill: how long until publishing and consuming resumed.
const (
	// progressBefore messages flow (acked and received) before a kill.
	progressBefore = 200
	// progressAfter messages must be acked and received after a kill,
	// while the node is down, and again after it is back.
	progressAfter = 200
	// resumeWithin bounds each of those waits.
	resumeWithin = 90 * time.Second
	// firstAckWithin bounds the time from a kill to the first publish
	// acknowledged again: failover takes a few seconds on every broker
	// (leader election, reconnect), not a publish timeout.
	firstAckWithin = 20 * time.Second
)

func randomSuffix() string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// victim picks the node to kill in one phase; why says what it is.
type victim func(t *testing.T, c *Cluster, l *load) (node, why string)

// settle waits until the restarted node has caught up (every replica
// current again), so that the next kill is a single fault; nil: no wait.
type settle func(ctx context.Context, t *testing.T, l *load)

// poll calls check every 200 ms until it returns nil, failing the test
// with its last error when ctx ends.
func poll(ctx context.Context, t *testing.T, what string, check func(context.Context) error) {
	t.Helper()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		err := check(ctx)
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, err)
		case <-tick.C:
		}
	}
}

// failover runs steady load through the cluster's multi-host URL and, for
// each victim in turn, SIGKILLs that node, checks that publishing and
// consuming go on while it is down, restarts it and checks again; at the
// end no acknowledged message may be missing.
func failover(t *testing.T, c *Cluster, settled settle, victims ...victim) *load {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	t.Cleanup(cancel)
	suffix := randomSuffix()
	topic, group := "cluster-"+c.Broker+"-"+suffix, "g"+suffix
	l := startLoad(ctx, t, c.URL, topic, group)
	l.progress(resumeWithin, progressBefore, "before any kill")
	for _, pick := range victims {
		node, why := pick(t, c, l)
		if node == "" {
			t.Fatalf("no node to kill (%s)", why)
		}
		killed := false
		t.Cleanup(func() {
			if killed && !c.Running(node) {
				c.Restart(t, node)
			}
		})
		c.Kill(t, node)
		killed = true
		pub, got := l.progress(resumeWithin, progressAfter, "after killing "+node)
		t.Logf("killed %s (%s): first ack after %v, first delivery after %v", node, why, pub.Round(time.Millisecond), got.Round(time.Millisecond))
		if pub > firstAckWithin {
			t.Errorf("after killing %s the first publish was acknowledged after %v, want within %v", node, pub.Round(time.Millisecond), firstAckWithin)
		}
		start := time.Now()
		c.Restart(t, node)
		if settled != nil {
			sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			settled(sctx, t, l)
			cancel()
		}
		t.Logf("restarted %s in %v (caught up)", node, time.Since(start).Round(time.Millisecond))
		l.progress(resumeWithin, progressAfter, "after restarting "+node)
	}
	l.finish(2 * time.Minute)
	return l
}

// TestKafkaClusterFailover: the leader of partition 0 is killed; the
// publisher and the group go on through the other brokers, and topics
// Herald creates are replicated 3 times with min.insync.replicas 2.
func TestKafkaClusterFailover(t *testing.T) {
	c := Open(t, Kafka)
	leaderOf0 := func(t *testing.T, c *Cluster, l *load) (string, string) {
		var adm *kadm.Client
		if !l.pub.As(&adm) {
			t.Fatal("the kafka publisher gives no *kadm.Client")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		checkKafkaReplication(ctx, t, adm, l.topic)
		md, err := adm.Metadata(ctx, l.topic)
		if err != nil {
			t.Fatal(err)
		}
		p, ok := md.Topics[l.topic].Partitions[0]
		if !ok {
			t.Fatalf("topic %s has no partition 0", l.topic)
		}
		return "kafka" + strconv.Itoa(int(p.Leader)), "leader of partition 0"
	}
	isrFull := func(ctx context.Context, t *testing.T, l *load) {
		var adm *kadm.Client
		l.pub.As(&adm)
		poll(ctx, t, "in-sync replicas of "+l.topic, func(ctx context.Context) error {
			md, err := adm.Metadata(ctx, l.topic)
			if err != nil {
				return err
			}
			for _, p := range md.Topics[l.topic].Partitions {
				if len(p.ISR) != len(p.Replicas) {
					return fmt.Errorf("partition %d: ISR %v of replicas %v", p.Partition, p.ISR, p.Replicas)
				}
			}
			return nil
		})
	}
	failover(t, c, isrFull, leaderOf0)
}

// checkKafkaReplication: a topic Herald created on a 3-broker cluster has
// 3 replicas per partition and min.insync.replicas 2.
func checkKafkaReplication(ctx context.Context, t *testing.T, adm *kadm.Client, topic string) {
	t.Helper()
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range md.Topics[topic].Partitions {
		if len(p.Replicas) != 3 {
			t.Errorf("partition %d has replicas %v, want 3", p.Partition, p.Replicas)
		}
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, cfg := range rc.Configs {
		if cfg.Key == "min.insync.replicas" {
			found = true
			if cfg.Value == nil || *cfg.Value != "2" {
				t.Errorf("min.insync.replicas of %s = %v, want 2", topic, cfg.MaybeValue())
			}
		}
	}
	if !found {
		t.Errorf("topic %s has no min.insync.replicas in its configs", topic)
	}
}

// TestRabbitMQClusterFailover: the node the publisher is connected to is
// killed, then the node leading the group's quorum queue; publisher and
// subscriber move to other nodes by themselves (multi-host URL).
func TestRabbitMQClusterFailover(t *testing.T) {
	c := Open(t, AMQP)
	connected := func(t *testing.T, c *Cluster, l *load) (string, string) {
		var conn *amqp.Connection
		if !l.pub.As(&conn) || conn == nil {
			t.Fatal("the amqp publisher gives no connection")
		}
		return c.NodeAt(conn.RemoteAddr().String()), "the publisher's node " + conn.RemoteAddr().String()
	}
	queueLeader := func(t *testing.T, c *Cluster, l *load) (string, string) {
		q := l.topic + "." + l.group // no '.' or '%' in either: the queue name is plain
		return c.Leader(t, q), "leader of quorum queue " + q
	}
	failover(t, c, nil, connected, queueLeader)
}

// TestNATSClusterFailover: the server the publisher is connected to is
// killed, then the leader of the topic's stream, which Herald created
// with 3 replicas.
func TestNATSClusterFailover(t *testing.T) {
	c := Open(t, NATS)
	connected := func(t *testing.T, c *Cluster, l *load) (string, string) {
		var js jetstream.JetStream
		if !l.pub.As(&js) {
			t.Fatal("the nats publisher gives no JetStream")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		name, err := js.StreamNameBySubject(ctx, l.topic)
		if err != nil {
			t.Fatal(err)
		}
		st, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if r := st.CachedInfo().Config.Replicas; r != 3 {
			t.Errorf("stream %s has %d replicas, want 3 (replicas=auto on a 3-server cluster)", name, r)
		}
		var nc *nats.Conn
		if !l.pub.As(&nc) {
			t.Fatal("the nats publisher gives no *nats.Conn")
		}
		return c.NodeAt(nc.ConnectedAddr()), "the publisher's server " + nc.ConnectedAddr()
	}
	streamLeader := func(t *testing.T, c *Cluster, l *load) (string, string) {
		var js jetstream.JetStream
		l.pub.As(&js)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		name, err := js.StreamNameBySubject(ctx, l.topic)
		if err != nil {
			t.Fatal(err)
		}
		return c.Leader(t, name), "leader of stream " + name
	}
	current := func(ctx context.Context, t *testing.T, l *load) {
		var js jetstream.JetStream
		l.pub.As(&js)
		poll(ctx, t, "replicas of the stream of "+l.topic, func(ctx context.Context) error {
			name, err := js.StreamNameBySubject(ctx, l.topic)
			if err != nil {
				return err
			}
			st, err := js.Stream(ctx, name)
			if err != nil {
				return err
			}
			ci := st.CachedInfo().Cluster
			if ci == nil || ci.Leader == "" {
				return errors.New("no leader")
			}
			if len(ci.Replicas) != 2 {
				return fmt.Errorf("%d followers, want 2", len(ci.Replicas))
			}
			for _, r := range ci.Replicas {
				if !r.Current || r.Offline {
					return fmt.Errorf("replica %s not current (lag %d, offline %v)", r.Name, r.Lag, r.Offline)
				}
			}
			return nil
		})
	}
	failover(t, c, current, connected, streamLeader)
}
