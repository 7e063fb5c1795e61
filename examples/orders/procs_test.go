package orders

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// Ports of this example's tests: 127.0.0.1:14150-14199 (the httpproducer
// example's tests use 14100-14149).
const firstPort, lastPort = 14150, 14199

// startNATS runs a nats-server with JetStream in the test process (what
// `herald serve` runs for several processes) on a free port of this
// example's range and returns its "127.0.0.1:port". It stops when the test
// ends.
func startNATS(t *testing.T) string {
	t.Helper()
	for p := firstPort; p <= lastPort; p++ {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		ln.Close() // nats-server listens itself; losing a race for the port just tries the next
		srv, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: p, JetStream: true,
			StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
		if err != nil {
			t.Fatal(err)
		}
		srv.Start()
		if srv.ReadyForConnections(10 * time.Second) {
			t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
			return srv.Addr().String()
		}
		srv.Shutdown()
	}
	t.Fatalf("no free port in 127.0.0.1:%d-%d for nats-server", firstPort, lastPort)
	return ""
}

// build compiles the example's services into a directory and returns it.
func build(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	start := time.Now()
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "./cmd/order", "./cmd/payment", "./cmd/audit")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("built the services in %v", time.Since(start).Round(time.Millisecond))
	return dir
}

// proc is one service process of a test.
type proc struct {
	name   string
	cmd    *exec.Cmd
	notify chan<- struct{} // told of every line and of the exit

	mu     sync.Mutex
	lines  []string
	stderr bytes.Buffer
	exited bool
	err    error // Wait's
}

// startProc starts bin with args and env, collecting its output lines.
func startProc(t *testing.T, notify chan<- struct{}, name, bin string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(bin, args...), notify: notify}
	p.cmd.Env = env
	p.cmd.Stderr = &lockedWriter{mu: &p.mu, w: &p.stderr}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
			p.poke()
		}
		err := p.cmd.Wait()
		p.mu.Lock()
		p.exited, p.err = true, err
		p.mu.Unlock()
		p.poke()
	}()
	t.Cleanup(func() {
		if !p.done() {
			_ = p.cmd.Process.Kill() // our own child, by its PID
		}
		if t.Failed() {
			t.Logf("%s stderr:\n%s", name, p.stderrText())
		}
	})
	return p
}

func (p *proc) poke() {
	select {
	case p.notify <- struct{}{}:
	default:
	}
}

// count returns how many output lines contain s.
func (p *proc) count(s string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.lines {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

// output returns a copy of the output lines.
func (p *proc) output() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

func (p *proc) done() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exited
}

func (p *proc) exitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

func (p *proc) stderrText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// kill sends SIGKILL: no drain, no goodbye to the broker.
func (p *proc) kill(t *testing.T) {
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill %s: %v", p.name, err)
	}
}

// terminate sends SIGTERM.
func (p *proc) terminate(t *testing.T) {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM %s: %v", p.name, err)
	}
}

// lockedWriter serializes writes under a proc's mutex.
type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// waitUntil waits until cond holds, re-checking on every output line and
// every 100 ms (the payments table is polled), for at most d.
func waitUntil(t *testing.T, notify <-chan struct{}, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(d)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-notify:
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%s: not within %v", what, d)
		}
	}
}
