package natsx

import (
	"log/slog"
	"testing"

	"github.com/nats-io/nats.go"
)

// TestUpChecksTheConnection: between IsConnected turning false and
// nats.go's disconnect callback, the watch's channel is still the last
// connection's (closed). Up must not report the connection up then: a
// Send would write into nats.go's reconnect buffer instead of waiting
// (TestSendWaitsForUnreachableServer failed that way under load).
func TestUpChecksTheConnection(t *testing.T) {
	nc := &nats.Conn{} // never connected: IsConnected is false
	up := make(chan struct{})
	close(up) // as left by the last connection, before the callback
	w := &ConnWatch{nc: nc, log: slog.New(slog.DiscardHandler), up: up, listeners: map[int]func(error){}}
	select {
	case <-w.Up():
		t.Fatal("Up is closed while the connection is down")
	default:
	}
}
