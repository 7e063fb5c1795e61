package embedded

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// MaxPayload is the largest message (payload and headers) the embedded
// server accepts: 8 MiB.
const MaxPayload = 8 << 20

// ErrDirInUse is returned when another process runs an embedded broker on
// the same data directory.
var ErrDirInUse = errors.New("data directory is in use by another process")

// serverOptions are the settings of the server itself; they take effect
// when the first Open on a directory starts it.
type serverOptions struct {
	logs         bool
	syncAlways   bool
	syncInterval time.Duration // 0: nats-server's default (2m)
	host         string        // with port: listen there (Listen); "": no listener
	port         int
}

// instance is one in-process nats-server on a data directory, shared by
// every publisher and subscriber opened on that directory in this process.
type instance struct {
	dir    string
	opts   serverOptions
	unlock func()

	mu   sync.Mutex // guards srv (replaced by restart)
	srv  *server.Server
	refs int // guarded by registryMu
}

var (
	registryMu sync.Mutex
	registry   = map[string]*instance{}
)

// acquire returns the running server for dir, starting it on first use.
// Each acquire must be paired with a release.
func acquire(ctx context.Context, dir string, o serverOptions) (*instance, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data directory: %w (choose a writable one with embedded:///abs/dir, embedded://?dir=rel/dir or HERALD_URL)", err)
	}
	key, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	if in := registry[key]; in != nil {
		in.refs++
		return in, nil
	}
	unlock, err := lockDir(key)
	if err != nil {
		return nil, err
	}
	in := &instance{dir: key, opts: o, unlock: unlock, refs: 1}
	srv, err := in.start(ctx)
	if err != nil {
		unlock()
		return nil, err
	}
	in.srv = srv
	registry[key] = in
	return in, nil
}

// start runs a nats-server with JetStream storing to in.dir, without any
// network listener, giving up when ctx ends.
func (in *instance) start(ctx context.Context) (*server.Server, error) {
	opts := &server.Options{
		ServerName:   "herald-embedded",
		DontListen:   in.opts.host == "",
		Host:         in.opts.host,
		Port:         in.opts.port,
		NoSigs:       true,
		NoLog:        !in.opts.logs,
		MaxPayload:   MaxPayload,
		JetStream:    true,
		StoreDir:     in.dir,
		SyncAlways:   in.opts.syncAlways,
		SyncInterval: in.opts.syncInterval,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("configuring nats-server: %w", err)
	}
	if in.opts.logs {
		srv.ConfigureLogger()
	}
	srv.Start()
	deadline := time.Now().Add(60 * time.Second)
	for !srv.ReadyForConnections(50 * time.Millisecond) {
		if err := ctx.Err(); err != nil {
			srv.Shutdown()
			return nil, fmt.Errorf("starting nats-server on %s: %w", in.dir, err)
		}
		if time.Now().After(deadline) {
			srv.Shutdown()
			return nil, fmt.Errorf("nats-server on %s did not become ready within 60s", in.dir)
		}
	}
	if !srv.JetStreamEnabled() {
		srv.Shutdown()
		return nil, fmt.Errorf("JetStream did not start on %s (run with ?log=true to see why)", in.dir)
	}
	if err := returnPending(ctx, srv); err != nil {
		srv.Shutdown()
		return nil, err
	}
	return srv, nil
}

// returnPending resets every consumer holding messages delivered but not
// acked when the server last stopped back to its ack floor, so they are
// delivered again at once instead of after their ack wait: this process
// owns the directory (see lockDir), so no client can still hold them.
func returnPending(ctx context.Context, srv *server.Server) error {
	nc, err := nats.Connect("", nats.InProcessServer(srv), nats.Name("herald-embedded-startup"))
	if err != nil {
		return fmt.Errorf("connecting to the in-process server: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	streams := js.StreamNames(ctx)
	for name := range streams.Name() {
		st, err := js.Stream(ctx, name)
		if err != nil {
			return fmt.Errorf("startup: stream %q: %w", name, err)
		}
		consumers := st.ListConsumers(ctx)
		for ci := range consumers.Info() {
			if ci.NumAckPending == 0 {
				continue
			}
			if _, err := js.ResetConsumer(ctx, name, ci.Name); err != nil {
				return fmt.Errorf("startup: returning the pending messages of consumer %q on stream %q: %w", ci.Name, name, err)
			}
		}
		if err := consumers.Err(); err != nil {
			return fmt.Errorf("startup: consumers of stream %q: %w", name, err)
		}
	}
	if err := streams.Err(); err != nil {
		return fmt.Errorf("startup: listing streams: %w", err)
	}
	return nil
}

// release drops one reference; the last one shuts the server down and
// frees the directory.
func (in *instance) release() {
	registryMu.Lock()
	defer registryMu.Unlock()
	in.refs--
	if in.refs > 0 {
		return
	}
	delete(registry, in.dir)
	in.mu.Lock()
	srv := in.srv
	in.srv = nil
	in.mu.Unlock()
	if srv != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
	}
	in.unlock()
}

// restart shuts the server down and starts a new one on the same
// directory; clients reconnect to it by themselves (see InProcessConn).
func (in *instance) restart() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.srv == nil {
		return errors.New("restart: server is not running")
	}
	in.srv.Shutdown()
	in.srv.WaitForShutdown()
	srv, err := in.start(context.Background())
	in.srv = srv
	return err
}

// server returns the running server, or nil.
func (in *instance) server() *server.Server {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.srv
}

// InProcessConn connects to the current server; nats.go calls it to
// connect and to reconnect (nats.InProcessConnProvider).
func (in *instance) InProcessConn() (net.Conn, error) {
	srv := in.server()
	if srv == nil {
		return nil, errors.New("server is not running")
	}
	return srv.InProcessConn()
}

// as answers As(**server.Server).
func (in *instance) as(target any) bool {
	if t, ok := target.(**server.Server); ok {
		*t = in.server()
		return true
	}
	return false
}
