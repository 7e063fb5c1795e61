package chaos

import (
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// natsBroker is a nats-server with JetStream on a store directory.
type natsBroker struct {
	dir  string
	port int
	p    *proc
}

func natsBinary() string {
	if b := os.Getenv("HERALD_NATS_SERVER"); b != "" {
		return b
	}
	return filepath.Join(cacheDir(), "nats-server-v2.15.2", "bin", "nats-server")
}

func (b *natsBroker) start() error {
	logPath := filepath.Join(b.dir, "nats.log")
	_ = os.Remove(logPath)
	p, err := startProc(logPath, nil, natsBinary(), "-a", "127.0.0.1", "-p", strconv.Itoa(b.port),
		"-js", "-sd", filepath.Join(b.dir, "store"), "-n", "herald-chaos")
	if err != nil {
		return err
	}
	b.p = p
	return p.waitFor("nats-server", 60*time.Second, func() bool {
		return fileContains(logPath, "Server is ready") && portOpen(b.upstream())
	}, logPath)
}

func (b *natsBroker) kill()                       { b.p.kill() }
func (b *natsBroker) upstream() string            { return addr(b.port) }
func (b *natsBroker) url(proxyAddr string) string { return "nats://" + proxyAddr }
