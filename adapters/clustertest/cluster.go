package clustertest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Broker names, as scripts/cluster.sh spells them.
const (
	Kafka = "kafka"
	AMQP  = "amqp"
	NATS  = "nats"
)

// envVar is the variable holding each broker's multi-host URL.
var envVar = map[string]string{
	Kafka: "HERALD_CLUSTER_KAFKA",
	AMQP:  "HERALD_CLUSTER_AMQP",
	NATS:  "HERALD_CLUSTER_NATS",
}

// nodePrefix is the node name prefix of each broker (kafka1, rabbit1, nats1).
var nodePrefix = map[string]string{Kafka: "kafka", AMQP: "rabbit", NATS: "nats"}

// Cluster is one broker's three-node cluster, driven through
// scripts/cluster.sh (its HERALD_CLUSTER_* environment picks the
// cluster: port base and state dir).
type Cluster struct {
	Broker string
	// URL is the multi-host target naming every node.
	URL    string
	script string
}

// Open returns broker's cluster, from the environment scripts/cluster.sh
// env prints. It skips the test under -short or when the cluster's URL
// is not set, and fails instead when HERALD_REQUIRE_CLUSTER=1.
func Open(t testing.TB, broker string) *Cluster {
	t.Helper()
	v, ok := envVar[broker]
	if !ok {
		t.Fatalf("clustertest: unknown broker %q (kafka, amqp, nats)", broker)
	}
	if testing.Short() {
		t.Skip("-short: cluster tests are skipped")
	}
	url := os.Getenv(v)
	if url == "" {
		msg := v + " is not set: start the cluster with `scripts/cluster.sh up` and eval its exports (or `make cluster-test`)"
		if os.Getenv("HERALD_REQUIRE_CLUSTER") == "1" || os.Getenv("HERALD_REQUIRE_BROKERS") == "1" {
			t.Fatal(msg + " (HERALD_REQUIRE_CLUSTER=1 or HERALD_REQUIRE_BROKERS=1: a missing cluster is a failure; make test starts the clusters)")
		}
		t.Skip(msg)
	}
	return &Cluster{Broker: broker, URL: url, script: scriptPath(t)}
}

// scriptPath is HERALD_CLUSTER_SCRIPT, else scripts/cluster.sh of this
// source tree.
func scriptPath(t testing.TB) string {
	if p := os.Getenv("HERALD_CLUSTER_SCRIPT"); p != "" {
		return p
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("clustertest: cannot locate scripts/cluster.sh: set HERALD_CLUSTER_SCRIPT")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "scripts", "cluster.sh")
}

// Nodes are the cluster's node names (kafka1..3, rabbit1..3, nats1..3).
func (c *Cluster) Nodes() []string {
	p := nodePrefix[c.Broker]
	return []string{p + "1", p + "2", p + "3"}
}

// NodeAt returns the node whose client address is addr ("127.0.0.1:15011"),
// from HERALD_CLUSTER_NODES_<NODE>; "" if none.
func (c *Cluster) NodeAt(addr string) string {
	for _, n := range c.Nodes() {
		if os.Getenv("HERALD_CLUSTER_NODES_"+strings.ToUpper(n)) == addr {
			return n
		}
	}
	return ""
}

// Run runs scripts/cluster.sh with args and returns its standard output;
// a failure fails the test with the script's output.
func (c *Cluster) Run(t testing.TB, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.script, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", c.script, strings.Join(args, " "), err, out.String(), errb.String())
	}
	return strings.TrimSpace(out.String())
}

// Kill SIGKILLs node and returns once its process is gone.
func (c *Cluster) Kill(t testing.TB, node string) {
	t.Helper()
	c.Run(t, "kill", node)
}

// Restart starts node again (stopping it first if it runs) and returns
// once it is ready.
func (c *Cluster) Restart(t testing.TB, node string) {
	t.Helper()
	c.Run(t, "restart", node)
}

// Running reports whether node's process is alive.
func (c *Cluster) Running(node string) bool {
	return exec.Command(c.script, "pid", node).Run() == nil
}

// Leader returns the node leading a NATS stream or a RabbitMQ quorum
// queue (scripts/cluster.sh leader).
func (c *Cluster) Leader(t testing.TB, name string) string {
	t.Helper()
	return c.Run(t, "leader", c.Broker, name)
}
