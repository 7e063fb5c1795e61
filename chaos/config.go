package chaos

import (
	"fmt"
	"io"
	"time"

	"github.com/heraldkit/herald/internal/faultkit"
)

// Config is a suite's settings; zero fields take the defaults of
// DefaultConfig.
type Config struct {
	// Exe and Args start a consumer process (the harness binary run again,
	// which must call RunConsumerIfChild first); Exe defaults to this
	// executable.
	Exe  string
	Args []string
	// Rate is the load in messages per second (one message per Publish),
	// over Keys keys.
	Rate, Keys int
	// Consumers is the number of consumer processes in the group.
	Consumers int
	// Warmup is the load before the fault, After the load after it.
	Warmup, After time.Duration
	// Cut is how long the proxy black-holes traffic.
	Cut time.Duration
	// Drain bounds the wait, after the load, for every acked message.
	Drain time.Duration
	// PublishTimeout bounds each Publish call.
	PublishTimeout time.Duration
	// PortBase is the first 127.0.0.1 port for private brokers and proxies.
	PortBase int
	// Dir holds the private brokers' data (a temporary directory if empty).
	Dir string
	// Query adds URL query options per broker kind (kafka, amqp, nats),
	// e.g. "session_timeout=45s".
	Query map[string]string
	// Shared are broker URLs per kind for the cases that need no broker of
	// their own (consumer-kill, and the proxy cases on amqp and nats); a
	// kind without one gets a private broker.
	Shared map[string]string
	// Cluster is how to reach scripts/cluster.sh for node-kill.
	Cluster ClusterConfig
	// Log gets progress lines (nil: stderr).
	Log io.Writer
}

// DefaultConfig is the full suite's settings.
func DefaultConfig() Config {
	return Config{
		Rate: 2000, Keys: 32, Consumers: 3,
		Warmup: 5 * time.Second, After: 10 * time.Second, Cut: 15 * time.Second,
		Drain: 120 * time.Second, PublishTimeout: 10 * time.Second, PortBase: 16000,
	}
}

func (c *Config) fill() {
	faultkit.FillConfig(c, DefaultConfig(), &c.Exe, &c.Log)
}

func (c *Config) logf(format string, args ...any) {
	fmt.Fprintf(c.Log, "chaos: "+format+"\n", args...)
}
