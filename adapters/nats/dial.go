package nats

import (
	"context"
	"net"
	"sync"
	"time"
)

// dialer is nats.go's dialer for one connection. While Open runs it dials
// with Open's context and closes what it dialed when that context ends,
// so a server that accepts and never answers cannot hold Open past its
// context; afterwards (reconnects) it dials without a context.
type dialer struct {
	timeout time.Duration

	mu    sync.Mutex
	ctx   context.Context // Open's, until opened is called
	stops []func() bool
}

func newDialer(ctx context.Context, timeout time.Duration) *dialer {
	return &dialer{ctx: ctx, timeout: timeout}
}

// Dial implements nats.CustomDialer.
func (d *dialer) Dial(network, address string) (net.Conn, error) {
	d.mu.Lock()
	ctx := d.ctx
	d.mu.Unlock()
	if ctx == nil {
		ctx = context.Background()
	}
	nd := net.Dialer{Timeout: d.timeout}
	c, err := nd.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	if d.ctx != nil {
		d.stops = append(d.stops, context.AfterFunc(d.ctx, func() { _ = c.Close() }))
	}
	d.mu.Unlock()
	return c, nil
}

// opened ends the dialer's tie to Open's context.
func (d *dialer) opened() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, stop := range d.stops {
		stop()
	}
	d.stops, d.ctx = nil, nil
}
