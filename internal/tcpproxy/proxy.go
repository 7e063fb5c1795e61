// Package tcpproxy is a TCP proxy on loopback for fault tests: it forwards
// a client's connections to one upstream address and can black-hole them,
// reset them or refuse new ones. adaptertest.Proxy and the chaos harness
// use it.
package tcpproxy

import (
	"fmt"
	"net"
	"sync"
)

// Proxy forwards the connections it accepts to upstream: Blackhole stops
// forwarding (connections stay open, bytes are dropped), Down closes every
// connection and refuses new ones, Reset closes the open ones, Up restores
// forwarding.
type Proxy struct {
	ln       net.Listener
	upstream string

	mu    sync.Mutex
	down  bool // refuse: close accepted connections at once
	black bool // black hole: read and drop
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// Listen starts a proxy listening on addr ("127.0.0.1:0" for any free
// port) that forwards to upstream ("host:port"). Close stops it.
func Listen(addr, upstream string) (*Proxy, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("proxy: listen on %s: %w", addr, err)
	}
	p := &Proxy{ln: ln, upstream: upstream, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
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

// Reset closes every open connection with a TCP reset (RST, not FIN) but
// keeps accepting new ones.
func (p *Proxy) Reset() {
	p.mu.Lock()
	for c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
	}
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
