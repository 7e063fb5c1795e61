package chaos

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// consumerProc is one consumer process of the group.
type consumerProc struct {
	cmd    *exec.Cmd
	ready  chan struct{}
	exited chan struct{}
	killed bool // by the harness
	err    error
	stderr *tailBuffer
}

// startConsumers starts n consumer processes (exe with args, the harness
// binary re-executed) in group on topic, counting their deliveries into
// t, and waits until each is subscribed.
func startConsumers(exe string, args []string, n int, url, topic, group string, t *tally, wait time.Duration) ([]*consumerProc, error) {
	var procs []*consumerProc
	for i := 0; i < n; i++ {
		p, err := startConsumer(exe, args, url, topic, group, t)
		if err != nil {
			stopConsumers(procs)
			return nil, err
		}
		procs = append(procs, p)
	}
	deadline := time.After(wait)
	for i, p := range procs {
		select {
		case <-p.ready:
		case <-p.exited:
			stopConsumers(procs)
			return nil, fmt.Errorf("consumer %d exited before it was subscribed: %v: %s", i, p.err, p.stderr)
		case <-deadline:
			stopConsumers(procs)
			return nil, fmt.Errorf("consumer %d not subscribed within %v: %s", i, wait, p.stderr)
		}
	}
	return procs, nil
}

func startConsumer(exe string, args []string, url, topic, group string, t *tally) (*consumerProc, error) {
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), envChild+"=1", envURL+"="+url, envTopic+"="+topic, envGroup+"="+group)
	p := &consumerProc{cmd: cmd, ready: make(chan struct{}), exited: make(chan struct{}), stderr: &tailBuffer{max: 4096}}
	cmd.Stderr = p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start a consumer process: %w", err)
	}
	go func() {
		r := bufio.NewReaderSize(out, 64<<10)
		ready := false
		for {
			line, err := r.ReadSlice('\n')
			if len(line) > 1 && line[len(line)-1] == '\n' {
				s := line[:len(line)-1]
				if !ready && string(s) == "ready" {
					ready = true
					close(p.ready)
				} else if seq, perr := strconv.Atoi(string(s)); perr == nil {
					t.delivered(seq, time.Now())
				} else {
					t.delivered(-1, time.Now())
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

// kill SIGKILLs the process and waits until its output was read.
func (p *consumerProc) kill() {
	p.killed = true
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// stop ends the process with SIGTERM (a clean shutdown: Herald's
// subscriber drains and leaves the group), SIGKILL after 15 s.
func (p *consumerProc) stop() {
	p.killed = true
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		p.kill()
	}
}

// check reports an unexpected exit as an error.
func (p *consumerProc) check() error {
	select {
	case <-p.exited:
		if !p.killed {
			return fmt.Errorf("a consumer process exited: %v: %s", p.err, p.stderr)
		}
	default:
	}
	return nil
}

// stopConsumers ends each process with SIGTERM (a clean shutdown), then
// SIGKILL after 15 s.
func stopConsumers(procs []*consumerProc) {
	for _, p := range procs {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range procs {
		select {
		case <-p.exited:
		case <-time.After(15 * time.Second):
			p.kill()
		}
	}
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
