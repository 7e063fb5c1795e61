package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldkit/herald/internal/tlsopt"
)

// errAborted is what a guarded dial returns once its guard was aborted.
var errAborted = errors.New("connection attempt stopped (closed or context done)")

// netGuard is the dialer franz-go uses for one publisher, subscriber or
// stream (kgo.Dialer). Aborting the guard closes every connection it made
// and refuses new ones, so whatever the client waits for fails at once,
// and its retry backoffs drop to zero: Close uses it to cut a client off.
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
	tls    *tls.Config // nil: plaintext; set before the first dial
	dial   dialFunc    // nil: TCP with net.Dialer; set before the first dial

	lastDial    atomic.Pointer[dialError] // the last dial's failure; nil after a success
	onDialError func(error)               // set before the first dial
}

type dialError struct{ err error }

// dialFunc opens a connection (net.Dialer.DialContext's signature).
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// lastDialError returns the last dial's failure, nil when it succeeded.
func (g *netGuard) lastDialError() error {
	if e := g.lastDial.Load(); e != nil {
		return e.err
	}
	return nil
}

// with makes g dial as s says: with TLS when s.tls is set, through s.dial
// when set (tests).
func (g *netGuard) with(s settings) *netGuard {
	g.mu.Lock()
	g.tls, g.dial = s.tls, s.dial
	g.mu.Unlock()
	return g
}

func newNetGuard(timeout, keepAlive time.Duration) *netGuard {
	ctx, cancel := context.WithCancel(context.Background())
	return &netGuard{timeout: timeout, keepAlive: keepAlive, ctx: ctx, cancel: cancel, conns: map[*guardedConn]struct{}{}}
}

// DialContext is the kgo.Dialer of the clients using g.
func (g *netGuard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if g.aborted() {
		return nil, &net.OpError{Op: "dial", Net: network, Err: errAborted}
	}
	ctx, stop := mergeCancel(ctx, g.ctx)
	defer stop()
	g.mu.Lock()
	dial := g.dial
	g.mu.Unlock()
	if dial == nil {
		d := net.Dialer{Timeout: g.timeout, KeepAlive: g.keepAlive}
		dial = d.DialContext
	}
	c, err := dial(ctx, network, addr)
	if err != nil {
		if !g.aborted() {
			g.lastDial.Store(&dialError{err})
			if g.onDialError != nil {
				g.onDialError(err)
			}
		}
		return nil, err
	}
	g.lastDial.Store(nil)
	gc := &guardedConn{Conn: c, g: g}
	g.mu.Lock()
	if g.aborted() {
		g.mu.Unlock()
		_ = c.Close()
		return nil, &net.OpError{Op: "dial", Net: network, Err: errAborted}
	}
	g.conns[gc] = struct{}{}
	tlsConf := g.tls
	g.mu.Unlock()
	if tlsConf == nil {
		return gc, nil
	}
	// Each broker is verified against its own name, unless
	// tls_server_name names one for all.
	tc := tls.Client(gc, tlsopt.Settings{Config: tlsConf}.For(addr))
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = gc.Close()
		return nil, err
	}
	return tc, nil
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

// mergeCancel returns a context that ends with a or b.
func mergeCancel(a, b context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(a)
	stop := context.AfterFunc(b, cancel)
	return ctx, func() { stop(); cancel() }
}
