package chaos

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ClusterConfig reaches scripts/cluster.sh (up|down|env|kill NODE|restart
// NODE), which runs 3-node Kafka, RabbitMQ and NATS clusters on loopback.
type ClusterConfig struct {
	Script   string // path of cluster.sh; empty: node-kill cannot run
	PortBase int    // HERALD_CLUSTER_PORT_BASE
	Dir      string // HERALD_CLUSTER_DIR
	// Node is the node to kill per kind (default kafka1, rabbit1, nats1).
	Node map[string]string
}

var clusterEnvVar = map[string]string{"kafka": "HERALD_CLUSTER_KAFKA", "amqp": "HERALD_CLUSTER_AMQP", "nats": "HERALD_CLUSTER_NATS"}

func (cc ClusterConfig) run(args ...string) ([]byte, error) {
	cmd := exec.Command(cc.Script, args...)
	cmd.Env = os.Environ()
	if cc.PortBase > 0 {
		cmd.Env = append(cmd.Env, fmt.Sprintf("HERALD_CLUSTER_PORT_BASE=%d", cc.PortBase))
	}
	if cc.Dir != "" {
		cmd.Env = append(cmd.Env, "HERALD_CLUSTER_DIR="+cc.Dir)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", cc.Script, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// clusterTarget reads the cluster's multi-host URL for kind from
// `cluster.sh env`.
func clusterTarget(c *Config, kind string) (*target, error) {
	cc := c.Cluster
	if cc.Script == "" {
		return nil, fmt.Errorf("no cluster script (-cluster scripts/cluster.sh)")
	}
	out, err := cc.run("env")
	if err != nil {
		return nil, err
	}
	want := clusterEnvVar[kind]
	s := bufio.NewScanner(bytes.NewReader(out))
	for s.Scan() {
		line := strings.TrimPrefix(strings.TrimSpace(s.Text()), "export ")
		if k, v, ok := strings.Cut(line, "="); ok && k == want {
			v = strings.Trim(v, `"'`)
			return &target{kind: kind, url: withQuery(v, c.Query[kind]), desc: "cluster"}, nil
		}
	}
	return nil, fmt.Errorf("%s env printed no %s", cc.Script, want)
}

// leader returns the node leading topic's partition 0 (kafka), stream
// (nats) or group queue (amqp), or the default node of kind (kafka1,
// rabbit1, nats1, or Node[kind]) when it cannot tell.
func (cc ClusterConfig) leader(c *Config, tg *target, topic, group string) string {
	if n := cc.Node[tg.kind]; n != "" {
		return n
	}
	def := map[string]string{"kafka": "kafka1", "amqp": "rabbit1", "nats": "nats1"}[tg.kind]
	var node string
	var err error
	switch tg.kind {
	case "kafka":
		node, err = kafkaLeader(tg.url, topic)
	case "nats":
		var out []byte
		out, err = cc.run("leader", "nats", topic)
		node = strings.TrimSpace(string(out))
	case "amqp":
		var out []byte
		out, err = cc.run("leader", "amqp", topic+"."+group)
		node = strings.TrimSpace(string(out))
	}
	if err != nil || node == "" {
		c.logf("%s: no leader found (%v): killing %s", tg.kind, err, def)
		return def
	}
	return node
}

// kafkaLeader is "kafka<id>" of the leader of topic's partition 0 (the
// cluster's node IDs are 1 to 3).
func kafkaLeader(raw, topic string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(u.Host, ",")...))
	if err != nil {
		return "", err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	md, err := kadm.NewClient(cl).Metadata(ctx, topic)
	if err != nil {
		return "", err
	}
	t, ok := md.Topics[topic]
	if !ok || t.Err != nil {
		return "", fmt.Errorf("topic %s: no metadata (%v)", topic, t.Err)
	}
	p, ok := t.Partitions[0]
	if !ok || p.Leader < 0 {
		return "", fmt.Errorf("topic %s: partition 0 has no leader", topic)
	}
	return fmt.Sprintf("kafka%d", p.Leader), nil
}

// nodeKill SIGKILLs the leader node of the case's topic (cluster.sh
// kill), waits 5 s and restarts it. Resume is measured from the kill: the
// cluster is to fail over while the node is down.
func nodeKill(c *Config, tg *target, topic, group string) (time.Time, error) {
	node := c.Cluster.leader(c, tg, topic, group)
	c.logf("%s: killing cluster node %s", tg.kind, node)
	killed := time.Now()
	if _, err := c.Cluster.run("kill", node); err != nil {
		return time.Time{}, err
	}
	time.Sleep(5 * time.Second)
	c.logf("%s: restarting cluster node %s", tg.kind, node)
	if _, err := c.Cluster.run("restart", node); err != nil {
		return killed, err
	}
	return killed, nil
}
