package faultkit

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

// Proc is a server process a suite started, in a process group of its
// own, so that SIGKILL reaches its children too (rabbitmq-server's shell
// wrapper and the Erlang VM); it is killed by that group (the PID the
// suite started), never by name.
type Proc struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

// StartProc runs argv with env added to this process's environment, its
// output appended to logPath.
func StartProc(logPath string, env []string, argv ...string) (*Proc, error) {
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
	p := &Proc{cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); _ = out.Close(); close(p.exited) }()
	return p, nil
}

// Kill SIGKILLs the process group and waits for the process to exit, then
// SIGKILLs what is left of the group. Idempotent; a nil Proc is a no-op.
func (p *Proc) Kill() {
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

// WaitReady polls ready every 100 ms until it returns true, the process
// exits or timeout passes; the errors end with the last 20 lines of
// logPath.
func (p *Proc) WaitReady(what string, timeout time.Duration, ready func() bool, logPath string) error {
	deadline := time.Now().Add(timeout)
	for !ready() {
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited during startup:\n%s", what, TailFile(logPath, 20))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v:\n%s", what, timeout, TailFile(logPath, 20))
		}
	}
	return nil
}

// PortOpen reports whether a TCP connection to addr succeeds within 1 s.
func PortOpen(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		_ = c.Close()
	}
	return err == nil
}

// FileContains reports whether the file at path contains s.
func FileContains(path, s string) bool {
	b, _ := os.ReadFile(path)
	return strings.Contains(string(b), s)
}

// TailFile is the last n lines of the file at path.
func TailFile(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// CacheDir is where scripts/brokers.sh keeps the broker binaries:
// $HERALD_CACHE, else ~/.cache/herald.
func CacheDir() string {
	if d := os.Getenv("HERALD_CACHE"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "herald")
}

// NATSServerPath is where scripts/brokers.sh builds nats-server:
// $HERALD_NATS_SERVER, else CacheDir()/nats-server-$HERALD_NATS_VERSION
// (default v2.15.2)/bin/nats-server. It does not check that it is there.
func NATSServerPath() string {
	if b := os.Getenv("HERALD_NATS_SERVER"); b != "" {
		return b
	}
	v := os.Getenv("HERALD_NATS_VERSION")
	if v == "" {
		v = "v2.15.2"
	}
	return filepath.Join(CacheDir(), "nats-server-"+v, "bin", "nats-server")
}
