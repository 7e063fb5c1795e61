// Command chaos runs Herald's fault suite (package chaos) and prints a
// markdown table of acked messages lost, duplicates, publish errors and
// the time until consumption resumed, per broker and case.
//
//	go run ./chaos/cmd/chaos                     # every case on kafka, amqp, nats
//	go run ./chaos/cmd/chaos -short              # the CI subset
//	go run ./chaos/cmd/chaos -brokers nats -cases reset,consumer-kill -json > nats.json
//	go run ./chaos/cmd/chaos -table nats.json kafka.json   # one table of earlier runs
//
// It exits 1 when a case lost an acked message or could not run.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/heraldkit/herald/chaos"
	"github.com/heraldkit/herald/internal/faultkit"
)

func main() {
	chaos.RunConsumerIfChild()
	c := chaos.DefaultConfig()
	out := faultkit.NewOutput("chaos", chaos.WriteTable)
	brokers := flag.String("brokers", "kafka,amqp,nats", "broker kinds, comma-separated: kafka, amqp, nats")
	cases := flag.String("cases", strings.Join(chaos.AllCases, ","), "cases, comma-separated")
	short := flag.Bool("short", false, "the CI subset: reset, consumer-kill and broker-kill on nats and amqp, shorter load")
	shared := flag.Bool("shared", true, "run the cases that need no broker of their own on the shared brokers of HERALD_TEST_KAFKA/_AMQP/_NATS")
	flag.IntVar(&c.Rate, "rate", c.Rate, "messages per second (one per Publish)")
	flag.IntVar(&c.Keys, "keys", c.Keys, "distinct message keys")
	flag.IntVar(&c.Consumers, "consumers", c.Consumers, "consumer processes in the group")
	flag.DurationVar(&c.Warmup, "warmup", c.Warmup, "load before the fault")
	flag.DurationVar(&c.After, "after", c.After, "load after the fault")
	flag.DurationVar(&c.Cut, "cut", c.Cut, "black hole duration")
	flag.DurationVar(&c.Drain, "drain", c.Drain, "wait after the load for the acked messages")
	flag.DurationVar(&c.PublishTimeout, "publish-timeout", c.PublishTimeout, "timeout of each Publish")
	flag.IntVar(&c.PortBase, "port-base", c.PortBase, "first 127.0.0.1 port for brokers and proxies of the harness's own")
	flag.StringVar(&c.Dir, "dir", "", "directory for the private brokers' data (default: a temporary one, removed)")
	kq := flag.String("kafka-query", "", "URL options added for kafka, e.g. session_timeout=45s")
	aq := flag.String("amqp-query", "", "URL options added for amqp")
	nq := flag.String("nats-query", "", "URL options added for nats")
	flag.StringVar(&c.Cluster.Script, "cluster", "", "scripts/cluster.sh, for node-kill")
	flag.IntVar(&c.Cluster.PortBase, "cluster-port-base", 0, "HERALD_CLUSTER_PORT_BASE for the cluster script (0: its default)")
	flag.StringVar(&c.Cluster.Dir, "cluster-dir", "", "HERALD_CLUSTER_DIR for the cluster script (empty: its default)")
	flag.Parse()
	out.TableOnly()

	given := faultkit.Given()
	if *short {
		faultkit.Default(given, "brokers", brokers, "nats,amqp")
		faultkit.Default(given, "cases", cases, strings.Join([]string{chaos.CaseReset, chaos.CaseConsumerKill, chaos.CaseBrokerKill}, ","))
		faultkit.Default(given, "rate", &c.Rate, 1000)
		faultkit.Default(given, "warmup", &c.Warmup, 3*time.Second)
		faultkit.Default(given, "after", &c.After, 5*time.Second)
	}
	c.Query = map[string]string{"kafka": *kq, "amqp": *aq, "nats": *nq}
	if *shared {
		c.Shared = map[string]string{
			"kafka": os.Getenv("HERALD_TEST_KAFKA"),
			"amqp":  os.Getenv("HERALD_TEST_AMQP"),
			"nats":  os.Getenv("HERALD_TEST_NATS"),
		}
	}
	kinds, names := faultkit.Split(*brokers), faultkit.Split(*cases)
	if !given["cases"] && c.Cluster.Script == "" {
		names = without(names, chaos.CaseNodeKill)
	}
	start := time.Now()
	rs := chaos.Run(c, kinds, names)
	out.Finish(rs, start, "go run ./chaos/cmd/chaos", "rate "+fmt.Sprint(c.Rate)+" msg/s")
}

func without(list []string, drop string) []string {
	var out []string
	for _, s := range list {
		if s != drop {
			out = append(out, s)
		}
	}
	return out
}
