package nats_test

import (
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters/internal/natsx"
	"github.com/heraldkit/herald/adapters/internal/natsx/natsxtest"
	hnats "github.com/heraldkit/herald/adapters/nats"
	"github.com/heraldkit/herald/internal/tcpproxy"
)

var topicSeq atomic.Int64

// topic returns a fresh topic name for the test; the test's cleanup
// deletes the stream Herald made for it on the shared broker, if any.
func topic(t testing.TB) string {
	name := strings.NewReplacer("/", ".", " ", "_", "#", "_", "=", "_", "&", "_").Replace(t.Name())
	for strings.Contains(name, "..") {
		name = strings.ReplaceAll(name, "..", ".x.")
	}
	name = strings.TrimSuffix(name, ".")
	tp := fmt.Sprintf("herald.test.%s.%d.%d", name, time.Now().UnixNano(), topicSeq.Add(1))
	natsxtest.DeleteStreamsAfter(t, os.Getenv("HERALD_TEST_NATS"), natsx.StreamName(tp))
	return tp
}

// brokerURL returns HERALD_TEST_NATS, or skips (fails under
// HERALD_REQUIRE_BROKERS=1).
func brokerURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("HERALD_TEST_NATS")
	if u == "" {
		if os.Getenv("HERALD_REQUIRE_BROKERS") == "1" {
			t.Fatal("HERALD_TEST_NATS is not set and HERALD_REQUIRE_BROKERS=1")
		}
		t.Skip("set HERALD_TEST_NATS=nats://127.0.0.1:4222 (scripts/brokers.sh up starts one)")
	}
	return u
}

// withQuery appends query parameters to u.
func withQuery(u, q string) string {
	if q == "" {
		return u
	}
	if strings.Contains(u, "?") {
		return u + "&" + q
	}
	return u + "?" + q
}

// joinQuery joins query strings.
func joinQuery(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "&" + b
}

// config parses u with query and group.
func config(t testing.TB, u, group, query string) herald.Config {
	t.Helper()
	cfg, err := herald.ParseURL(withQuery(u, query))
	if err != nil {
		t.Fatal(err)
	}
	if group != "" {
		cfg.Group = group
	}
	return cfg
}

// fixture drives the nats driver against u ("" for the shared broker)
// with base query options.
func fixture(t testing.TB, u, base string) natsxtest.Fixture {
	if u == "" {
		u = brokerURL(t)
	}
	return natsxtest.Fixture{
		Driver: hnats.Driver{},
		Config: func(t testing.TB, group, query string) herald.Config {
			return config(t, withQuery(u, base), group, query)
		},
		Topic: func(t testing.TB) string { return topic(t) },
	}
}

// proxied returns a fixture through a TCP proxy to the shared broker.
func proxied(t *testing.T, base string) (*tcpproxy.Proxy, natsxtest.Fixture) {
	host := strings.TrimPrefix(brokerURL(t), "nats://")
	px := newProxy(t, host)
	return px, fixture(t, "nats://"+px.Addr(), joinQuery("reconnect_wait=50ms", base))
}

func newProxy(t testing.TB, upstream string) *tcpproxy.Proxy {
	px, err := tcpproxy.Listen("127.0.0.1:0", upstream)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(px.Close)
	return px
}

// privateServer is a nats-server with JetStream of the test's own, on a
// TCP port, that the test can stop and start again (same port, same
// store) without touching the shared broker.
type privateServer struct {
	t    testing.TB
	dir  string
	port int
	opts server.Options
	last *server.Options // what the running server started with
	srv  *server.Server
}

func newPrivateServer(t testing.TB, opts server.Options) *privateServer {
	p := &privateServer{t: t, dir: t.TempDir(), port: -1, opts: opts}
	p.Start()
	t.Cleanup(p.Stop)
	return p
}

// URL is the server's nats:// URL.
func (p *privateServer) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", p.port) }

func (p *privateServer) Start() {
	p.t.Helper()
	o := p.opts
	o.Host, o.Port, o.JetStream, o.StoreDir, o.NoLog, o.NoSigs = "127.0.0.1", p.port, true, p.dir, true, true
	p.last = &o
	srv, err := server.NewServer(&o)
	if err != nil {
		p.t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		p.t.Fatal("private nats-server not ready")
	}
	p.srv = srv
	p.port = srv.Addr().(*net.TCPAddr).Port
}

func (p *privateServer) Stop() {
	if p.srv != nil {
		p.srv.Shutdown()
		p.srv.WaitForShutdown()
		p.srv = nil
	}
}

// serverOptions are the options of a plain private server.
func serverOptions() server.Options { return server.Options{} }
