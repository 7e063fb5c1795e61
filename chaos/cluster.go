package chaos

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
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

func (cc ClusterConfig) node(kind string) string {
	if n := cc.Node[kind]; n != "" {
		return n
	}
	return map[string]string{"kafka": "kafka1", "amqp": "rabbit1", "nats": "nats1"}[kind]
}

// nodeKill SIGKILLs a node of the cluster (cluster.sh kill), waits 5 s
// and restarts it.
func nodeKill(c *Config, tg *target) (time.Time, error) {
	node := c.Cluster.node(tg.kind)
	c.logf("%s: killing cluster node %s", tg.kind, node)
	if _, err := c.Cluster.run("kill", node); err != nil {
		return time.Time{}, err
	}
	time.Sleep(5 * time.Second)
	if _, err := c.Cluster.run("restart", node); err != nil {
		return time.Time{}, err
	}
	return time.Now(), nil
}
