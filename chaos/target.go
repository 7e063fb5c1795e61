package chaos

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/heraldkit/herald/internal/tcpproxy"
)

// target is where a case runs: a broker URL, the proxy in front of it if
// any, and the broker if it is the harness's own.
type target struct {
	kind   string // kafka, amqp, nats
	url    string
	proxy  *tcpproxy.Proxy
	broker broker
	desc   string // private, shared, cluster
}

// targets makes and keeps the targets of a suite.
type targets struct {
	c       *Config
	ports   ports
	dir     string
	private map[string]*target
	shared  map[string]*target
}

func newTargets(c *Config) (*targets, error) {
	dir := c.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "herald-chaos-")
		if err != nil {
			return nil, err
		}
		dir = d
	}
	return &targets{c: c, ports: ports{next: c.PortBase}, dir: dir,
		private: map[string]*target{}, shared: map[string]*target{}}, nil
}

// get returns the target for case name on kind.
func (ts *targets) get(name, kind string) (*target, error) {
	if name == CaseNodeKill {
		return clusterTarget(ts.c, kind)
	}
	private, proxy := needs(name, kind)
	if shared := ts.c.Shared[kind]; shared != "" && !private {
		return ts.sharedTarget(kind, shared, proxy)
	}
	return ts.privateTarget(kind)
}

func (ts *targets) privateTarget(kind string) (*target, error) {
	if tg := ts.private[kind]; tg != nil {
		return tg, nil
	}
	dir := filepath.Join(ts.dir, kind)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	proxyPort := ts.ports.take()
	b, err := newBroker(kind, dir, &ts.ports, proxyPort)
	if err != nil {
		return nil, err
	}
	p, err := tcpproxy.Listen(addr(proxyPort), b.upstream())
	if err != nil {
		return nil, err
	}
	ts.c.logf("%s: starting a broker of its own in %s (proxy %s, broker %s)", kind, dir, p.Addr(), b.upstream())
	if err := b.start(); err != nil {
		p.Close()
		closeBroker(b)
		return nil, err
	}
	tg := &target{kind: kind, url: withQuery(b.url(p.Addr()), ts.c.Query[kind]), proxy: p, broker: b, desc: "private"}
	ts.private[kind] = tg
	return tg, nil
}

func (ts *targets) sharedTarget(kind, raw string, proxy bool) (*target, error) {
	key := fmt.Sprint(kind, proxy)
	if tg := ts.shared[key]; tg != nil {
		return tg, nil
	}
	tg := &target{kind: kind, url: withQuery(raw, ts.c.Query[kind]), desc: "shared"}
	if proxy {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("%s URL: %w", kind, err)
		}
		p, err := tcpproxy.Listen(addr(ts.ports.take()), u.Host)
		if err != nil {
			return nil, err
		}
		u.Host = p.Addr()
		tg.url, tg.proxy = withQuery(u.String(), ts.c.Query[kind]), p
	}
	ts.shared[key] = tg
	return tg, nil
}

// close stops every private broker and proxy.
func (ts *targets) close() {
	for _, tg := range ts.private {
		tg.proxy.Close()
		closeBroker(tg.broker)
	}
	for _, tg := range ts.shared {
		if tg.proxy != nil {
			tg.proxy.Close()
		}
	}
	if ts.c.Dir == "" {
		_ = os.RemoveAll(ts.dir)
	}
}

func closeBroker(b broker) {
	if c, ok := b.(interface{ close() }); ok {
		c.close()
		return
	}
	b.kill()
}

// withQuery adds query ("k=v&k2=v2") to a URL.
func withQuery(raw, query string) string {
	if query == "" {
		return raw
	}
	if strings.Contains(raw, "?") {
		return raw + "&" + query
	}
	return raw + "?" + query
}
