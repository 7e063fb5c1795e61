package adaptertest

import (
	"net"
	"sync"
	"testing"
)

// Proxy is a TCP proxy on 127.0.0.1 between a client and a broker, for
// fault tests that must not disturb the shared brokers: Blackhole stops
// forwarding (connections stay open, bytes are dropped), Down closes every
// connection and refuses new ones, Up restores forwarding.
//
// A Kafka client reaches the broker's advertised address after its first
// request, so a Proxy cuts only RabbitMQ and NATS clients off their broker.
type Proxy struct {
	ln       net.Listener
	upstream string

	mu    sync.Mutex
	down  bool // refuse: close accepted connections at once
	black bool // black hole: read and drop
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// NewProxy starts a proxy to upstream ("host:port") and stops it when the
// test ends.
func NewProxy(t testing.TB, upstream string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: listen: %v", err)
	}
	p := &Proxy{ln: ln, upstream: upstream, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Addr is the proxy's "127.0.0.1:port"; point the client at it.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Down closes every open connection and refuses new ones until Up.
func (p *Proxy) Down() {
	p.mu.Lock()
	p.down = true
	p.closeAllLocked()
	p.mu.Unlock()
}

// Blackhole keeps connections open but drops every byte in both
// directions until Up, like a network partition; new connections are
// accepted and black-holed too.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	p.black = true
	p.mu.Unlock()
}

// Reset closes every open connection (the client sees a reset) but keeps
// accepting new ones.
func (p *Proxy) Reset() {
	p.mu.Lock()
	p.closeAllLocked()
	p.mu.Unlock()
}

// Up forwards again. Connections black-holed meanwhile are closed, since
// their streams lost bytes.
func (p *Proxy) Up() {
	p.mu.Lock()
	if p.black {
		p.closeAllLocked()
	}
	p.down, p.black = false, false
	p.mu.Unlock()
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() {
	_ = p.ln.Close()
	p.mu.Lock()
	p.closeAllLocked()
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) closeAllLocked() {
	for c := range p.conns {
		_ = c.Close()
		delete(p.conns, c)
	}
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			_ = c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.upstream)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(up, c)
		go p.pipe(c, up)
	}
}

// pipe copies src to dst, dropping bytes while black-holed.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	defer func() { _ = dst.Close(); _ = src.Close() }()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			black := p.black
			p.mu.Unlock()
			if !black {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}
