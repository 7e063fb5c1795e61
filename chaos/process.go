package chaos

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// proc is a broker process the harness started, in a process group of its
// own so that SIGKILL reaches its children too (rabbitmq-server's shell
// wrapper and the Erlang VM).
type proc struct {
	cmd    *exec.Cmd
	exited chan struct{}
	out    *os.File
}

// startProc runs argv with env added, output to logPath.
func startProc(logPath string, env []string, argv ...string) (*proc, error) {
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = out.Close()
		return nil, fmt.Errorf("start %s: %w", filepath.Base(argv[0]), err)
	}
	p := &proc{cmd: cmd, exited: make(chan struct{}), out: out}
	go func() { _ = cmd.Wait(); _ = out.Close(); close(p.exited) }()
	return p, nil
}

// kill SIGKILLs the process group (by the PID this harness started) and
// waits for the process to exit. Idempotent.
func (p *proc) kill() {
	if p == nil {
		return
	}
	select {
	case <-p.exited:
	default:
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL) // leftovers of the group
}

// waitFor polls ready every 200 ms until it returns true, the process
// exits or timeout passes.
func (p *proc) waitFor(what string, timeout time.Duration, ready func() bool, logPath string) error {
	deadline := time.Now().Add(timeout)
	for !ready() {
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited during startup:\n%s", what, tailFile(logPath, 20))
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v:\n%s", what, timeout, tailFile(logPath, 20))
		}
	}
	return nil
}

func portOpen(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		_ = c.Close()
	}
	return err == nil
}

func fileContains(path, s string) bool {
	b, _ := os.ReadFile(path)
	return strings.Contains(string(b), s)
}

func tailFile(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// cacheDir is where scripts/brokers.sh keeps the broker binaries.
func cacheDir() string {
	if d := os.Getenv("HERALD_CACHE"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "herald")
}
