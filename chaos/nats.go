package chaos

import (
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/heraldkit/herald/internal/faultkit"
)

// natsBroker is a nats-server with JetStream on a store directory.
type natsBroker struct {
	dir  string
	port int
	p    *faultkit.Proc
}

func (b *natsBroker) start() error {
	logPath := filepath.Join(b.dir, "nats.log")
	_ = os.Remove(logPath)
	p, err := faultkit.StartProc(logPath, nil, faultkit.NATSServerPath(), "-a", "127.0.0.1", "-p", strconv.Itoa(b.port),
		"-js", "-sd", filepath.Join(b.dir, "store"), "-n", "herald-chaos")
	if err != nil {
		return err
	}
	b.p = p
	return p.WaitReady("nats-server", 60*time.Second, func() bool {
		return faultkit.FileContains(logPath, "Server is ready") && faultkit.PortOpen(b.upstream())
	}, logPath)
}

func (b *natsBroker) kill()                       { b.p.Kill() }
func (b *natsBroker) upstream() string            { return addr(b.port) }
func (b *natsBroker) url(proxyAddr string) string { return "nats://" + proxyAddr }
