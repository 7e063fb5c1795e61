package embedded

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
)

// Listener is an embedded broker that other processes reach over the
// network with nats://, as started by Listen (the "herald serve" command).
type Listener struct {
	in *instance
}

// Listen starts the embedded NATS server with JetStream on dir, listening
// on addr (host:port; port 0 picks a free one), for processes that share
// it through the URL returned by URL. It takes the directory's lock as an
// embedded:// broker does: a directory in use by another process is
// refused with an error wrapping ErrDirInUse. Close stops it.
func Listen(ctx context.Context, dir, addr string) (*Listener, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("herald/embedded: listen address %q: %w (allowed: host:port, e.g. 127.0.0.1:4333)", addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("herald/embedded: listen address %q: port %q is not a number from 0 to 65535", addr, portText)
	}
	if host == "" {
		return nil, fmt.Errorf("herald/embedded: listen address %q: the host is missing (allowed: 127.0.0.1:PORT for this machine only, 0.0.0.0:PORT for every interface)", addr)
	}
	// nats-server does not report a port it cannot bind (it waits for
	// readiness in vain): try it first.
	probe, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("herald/embedded: listen on %s: %w (choose another address)", addr, err)
	}
	if port == 0 {
		port = probe.Addr().(*net.TCPAddr).Port
	}
	probe.Close()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("herald/embedded: creating data directory: %w", err)
	}
	key, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("herald/embedded: data directory: %w", err)
	}
	unlock, err := lockDir(key)
	if err != nil {
		return nil, fmt.Errorf("herald/embedded: %w", err)
	}
	in := &instance{dir: key, opts: serverOptions{host: host, port: port}, unlock: unlock, refs: 1}
	srv, err := in.start(ctx)
	if err != nil {
		unlock()
		return nil, fmt.Errorf("herald/embedded: %w", err)
	}
	in.srv = srv
	return &Listener{in: in}, nil
}

// URL returns the nats:// URL clients connect to.
func (l *Listener) URL() string {
	srv := l.in.server()
	if srv == nil {
		return ""
	}
	a, ok := srv.Addr().(*net.TCPAddr)
	if !ok {
		return ""
	}
	host := l.in.opts.host
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "nats://" + net.JoinHostPort(host, strconv.Itoa(a.Port))
}

// Dir returns the data directory.
func (l *Listener) Dir() string { return l.in.dir }

// Close shuts the server down (JetStream writes out what it holds) and
// frees the directory. It is safe to call more than once.
func (l *Listener) Close() error {
	l.in.mu.Lock()
	srv := l.in.srv
	l.in.srv = nil
	l.in.mu.Unlock()
	if srv == nil {
		return nil
	}
	srv.Shutdown()
	srv.WaitForShutdown()
	l.in.unlock()
	return nil
}
