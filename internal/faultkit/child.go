package faultkit

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Child is a process of the suite's own binary run again in a role (a
// consumer, a relay). It writes "ready" to stdout once it plays its role,
// then lines the suite reads; the tail of its stderr goes into the errors.
type Child struct {
	what   string // "a consumer process": the subject of the errors
	cmd    *exec.Cmd
	ready  chan struct{}
	exited chan struct{} // closed once stdout was read to its end and the process reaped
	killed bool          // by the suite
	err    error
	stderr *tailBuffer
}

// StartChild starts exe with args and env added to this process's
// environment. Each line of its stdout but the first "ready" goes to line,
// without its newline, from one goroutine; the slice is valid during the
// call only. what names the process in errors ("a relay process").
func StartChild(what, exe string, args, env []string, line func([]byte)) (*Child, error) {
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), env...)
	p := &Child{what: what, cmd: cmd, ready: make(chan struct{}), exited: make(chan struct{}), stderr: &tailBuffer{max: 4096}}
	cmd.Stderr = p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", what, err)
	}
	go func() {
		r := bufio.NewReaderSize(out, 64<<10)
		ready := false
		for {
			l, err := r.ReadSlice('\n')
			if len(l) > 1 && l[len(l)-1] == '\n' {
				s := l[:len(l)-1]
				if !ready && string(s) == "ready" {
					ready = true
					close(p.ready)
				} else {
					line(s)
				}
			}
			if err != nil && err != bufio.ErrBufferFull {
				break
			}
		}
		_, _ = io.Copy(io.Discard, out)
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// Ready is closed once the process wrote "ready".
func (p *Child) Ready() <-chan struct{} { return p.ready }

// Exited is closed once the process exited and its output was read.
func (p *Child) Exited() <-chan struct{} { return p.exited }

// Err is how the process ended (cmd.Wait's error); valid once Exited is
// closed.
func (p *Child) Err() error { return p.err }

// Stderr is the last 4 KiB the process wrote to stderr.
func (p *Child) Stderr() string { return p.stderr.String() }

// Kill SIGKILLs the process and waits until its output was read.
func (p *Child) Kill() {
	p.killed = true
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// terminate sends SIGTERM (the role shuts down cleanly).
func (p *Child) terminate() {
	p.killed = true
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
}

// Stop ends the process with SIGTERM; it reports an error when the
// process ended with one, or had not exited within wait (then it is
// SIGKILLed).
func (p *Child) Stop(wait time.Duration) error {
	p.terminate()
	return p.await(wait)
}

func (p *Child) await(wait time.Duration) error {
	select {
	case <-p.exited:
		if p.err != nil {
			return fmt.Errorf("%s stopped with %v: %s", p.what, p.err, p.stderr)
		}
		return nil
	case <-time.After(wait):
		p.Kill()
		return fmt.Errorf("%s did not stop within %v of SIGTERM (a hang): %s", p.what, wait, p.stderr)
	}
}

// StopAll sends SIGTERM to every process, then waits for each as Stop
// does, ignoring the errors.
func StopAll(ps []*Child, wait time.Duration) {
	for _, p := range ps {
		p.terminate()
	}
	for _, p := range ps {
		_ = p.await(wait)
	}
}

// Check reports an exit the suite did not cause (Kill, Stop, StopAll) as
// an error.
func (p *Child) Check() error {
	select {
	case <-p.exited:
		if !p.killed {
			return fmt.Errorf("%s exited: %v: %s", p.what, p.err, p.stderr)
		}
	default:
	}
	return nil
}

// CPU is the CPU time the process used (user and system); 0 while it
// runs.
func (p *Child) CPU() time.Duration {
	select {
	case <-p.exited:
		if st := p.cmd.ProcessState; st != nil {
			return st.UserTime() + st.SystemTime()
		}
	default:
	}
	return 0
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	b.b = append(b.b, p...)
	if len(b.b) > b.max {
		b.b = b.b[len(b.b)-b.max:]
	}
	b.mu.Unlock()
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.b)
}
