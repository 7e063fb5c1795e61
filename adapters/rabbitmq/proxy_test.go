package rabbitmq

import (
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
)

// replyDropper is a TCP proxy to the broker that can drop what the
// broker sends while still forwarding what the client sends: a publish
// then reaches the broker (which stores it) but its confirm never
// arrives, the state a lost connection leaves a publish in. Kill closes
// every connection (new ones are accepted).
type replyDropper struct {
	ln       net.Listener
	upstream string
	drop     atomic.Bool

	mu    sync.Mutex
	conns []net.Conn
}

// viaReplyDropper returns the test broker's URL through a new
// replyDropper, and the proxy.
func viaReplyDropper(t *testing.T) (string, *replyDropper) {
	t.Helper()
	u, err := url.Parse(brokerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &replyDropper{ln: ln, upstream: u.Host}
	t.Cleanup(func() { _ = ln.Close(); p.Kill() })
	go p.accept()
	u.Host = ln.Addr().String()
	return u.String(), p
}

func (p *replyDropper) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.upstream)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(s, c); _ = s.Close(); _ = c.Close() }()
		go p.replies(c, s)
	}
}

// replies copies the broker's bytes to the client unless dropping.
func (p *replyDropper) replies(c, s net.Conn) {
	defer c.Close()
	defer s.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := s.Read(buf)
		if n > 0 && !p.drop.Load() {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// DropReplies starts (true) or stops dropping the broker's bytes.
func (p *replyDropper) DropReplies(drop bool) { p.drop.Store(drop) }

// Kill closes every connection made so far.
func (p *replyDropper) Kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}
