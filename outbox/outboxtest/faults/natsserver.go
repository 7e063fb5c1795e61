package faults

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/heraldkit/herald/internal/faultkit"
)

// NATSServerBinary is the nats-server of scripts/brokers.sh:
// $HERALD_NATS_SERVER, else $HERALD_CACHE (default ~/.cache/herald)
// /nats-server-$HERALD_NATS_VERSION (default v2.15.2)/bin/nats-server.
func NATSServerBinary() (string, error) {
	b := faultkit.NATSServerPath()
	if fi, err := os.Stat(b); err != nil || fi.Mode()&0o111 == 0 {
		return "", errors.New("nats-server not found at " + b + " (scripts/brokers.sh up nats builds it; or set HERALD_NATS_SERVER)")
	}
	return b, nil
}

// natsServer is a nats-server with JetStream of the suite's own, on its
// own port and store directory; killed (SIGKILL to the process group it
// started) and started again on the same store by the broker-down case.
type natsServer struct {
	bin  string
	dir  string
	port int
	p    *faultkit.Proc
}

func newNATSServer(bin, dir string) (*natsServer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return &natsServer{bin: bin, dir: dir, port: port}, nil
}

func (n *natsServer) addr() string { return "127.0.0.1:" + strconv.Itoa(n.port) }

// URL is the client URL; the streams Herald creates on it de-duplicate
// within 1 s only (the least the driver takes), so that the outbox's
// re-sends after a lease expired reach the consumer and are counted
// (with the default window of 2 min JetStream would store most once).
func (n *natsServer) URL() string { return "nats://" + n.addr() + "?duplicates=1s" }

// start starts the server (again) and returns once clients can use it.
func (n *natsServer) start() error {
	logPath := filepath.Join(n.dir, "nats.log")
	_ = os.Remove(logPath)
	p, err := faultkit.StartProc(logPath, nil, n.bin, "-a", "127.0.0.1", "-p", strconv.Itoa(n.port),
		"-js", "-sd", filepath.Join(n.dir, "store"), "-n", "herald-outbox-faults")
	if err != nil {
		return err
	}
	n.p = p
	if err := p.WaitReady("nats-server", 60*time.Second, func() bool {
		return faultkit.FileContains(logPath, "Server is ready") && faultkit.PortOpen(n.addr())
	}, logPath); err != nil {
		p.Kill()
		return fmt.Errorf("nats-server: %w", err)
	}
	return nil
}

// kill SIGKILLs the server.
func (n *natsServer) kill() { n.p.Kill() }
