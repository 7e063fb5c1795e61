package kafka

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// errAborted is what a guarded dial returns once its guard was aborted.
var errAborted = errors.New("connection attempt stopped (closed or context done)")

// netGuard is the dialer Sarama uses for one publisher, subscriber or
// stream (through Net.Proxy). Sarama's blocking calls (connecting,
// metadata, joining a group) take no context; aborting the guard closes
// every connection it made and refuses new ones, so each of those calls
// fails at once, and the backoffs of Sarama's retries (see backoff) drop
// to zero. That is how Open, Subscribe and Close honour their context.
//
// It also remembers what the first bytes a broker sent on each connection
// looked like, so a failed connection can be explained (a TLS listener
// dialled without TLS).
type netGuard struct {
	timeout   time.Duration
	keepAlive time.Duration

	ctx    context.Context // done once aborted
	cancel context.CancelFunc

	mu    sync.Mutex
	conns map[*guardedConn]struct{}

	sawTLS atomic.Bool // a broker answered with what looks like a TLS record
}

func newNetGuard(timeout, keepAlive time.Duration) *netGuard {
	ctx, cancel := context.WithCancel(context.Background())
	return &netGuard{timeout: timeout, keepAlive: keepAlive, ctx: ctx, cancel: cancel, conns: map[*guardedConn]struct{}{}}
}

// Dial implements golang.org/x/net/proxy.Dialer for Sarama.
func (g *netGuard) Dial(network, addr string) (net.Conn, error) {
	if g.aborted() {
		return nil, &net.OpError{Op: "dial", Net: network, Err: errAborted}
	}
	d := net.Dialer{Timeout: g.timeout, KeepAlive: g.keepAlive}
	c, err := d.DialContext(g.ctx, network, addr)
	if err != nil {
		return nil, err
	}
	gc := &guardedConn{Conn: c, g: g}
	g.mu.Lock()
	if g.aborted() {
		g.mu.Unlock()
		_ = c.Close()
		return nil, &net.OpError{Op: "dial", Net: network, Err: errAborted}
	}
	g.conns[gc] = struct{}{}
	g.mu.Unlock()
	return gc, nil
}

// abort closes every connection and refuses new ones. It is idempotent.
func (g *netGuard) abort() {
	g.cancel()
	g.mu.Lock()
	conns := g.conns
	g.conns = map[*guardedConn]struct{}{}
	g.mu.Unlock()
	for c := range conns {
		_ = c.Conn.Close()
	}
}

func (g *netGuard) aborted() bool { return g.ctx.Err() != nil }

// abortOn aborts the guard when ctx is done, until stop is called; stop
// reports false when the guard was aborted by ctx.
func (g *netGuard) abortOn(ctx context.Context) (stop func() bool) {
	return context.AfterFunc(ctx, g.abort)
}

type guardedConn struct {
	net.Conn
	g         *netGuard
	firstRead atomic.Bool
}

func (c *guardedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n >= 2 && c.firstRead.CompareAndSwap(false, true) {
		// A TLS record starts with its type (0x15 alert, 0x16 handshake)
		// and version 3.x; a Kafka response starts with a 4-byte size
		// that is never that large.
		if (b[0] == 0x15 || b[0] == 0x16) && b[1] == 0x03 {
			c.g.sawTLS.Store(true)
		}
	}
	return n, err
}

func (c *guardedConn) Close() error {
	c.g.mu.Lock()
	delete(c.g.conns, c)
	c.g.mu.Unlock()
	return c.Conn.Close()
}
