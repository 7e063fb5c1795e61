package adaptertest

import (
	"testing"

	"github.com/heraldkit/herald/internal/tcpproxy"
)

// Proxy is a TCP proxy on 127.0.0.1 between a client and a broker, for
// fault tests that must not disturb the shared brokers: Blackhole stops
// forwarding (connections stay open, bytes are dropped), Down closes every
// connection and refuses new ones, Up restores forwarding (see
// internal/tcpproxy, which the chaos harness uses too).
//
// A Kafka client reaches the broker's advertised address after its first
// request, so a Proxy cuts only RabbitMQ and NATS clients off their broker
// (the chaos harness puts Kafka behind one with a broker of its own that
// advertises the proxy's address).
type Proxy = tcpproxy.Proxy

// NewProxy starts a proxy to upstream ("host:port") and stops it when the
// test ends.
func NewProxy(t testing.TB, upstream string) *Proxy {
	t.Helper()
	p, err := tcpproxy.Listen("127.0.0.1:0", upstream)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(p.Close)
	return p
}
