package faults

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// relayProc is one relay process.
type relayProc struct {
	cmd    *exec.Cmd
	ready  chan struct{}
	handed chan struct{} // signalled whenever the relay handed a message to the broker
	exited chan struct{}
	killed bool // by the suite
	err    error
	stderr *tailBuffer
}

// startRelay starts a relay process (exe with args, this binary run
// again) and waits until it runs.
func startRelay(exe string, args []string, c relayConfig, wait time.Duration) (*relayProc, error) {
	js, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), envRelay+"="+string(js))
	p := &relayProc{cmd: cmd, ready: make(chan struct{}), handed: make(chan struct{}, 1), exited: make(chan struct{}), stderr: &tailBuffer{max: 4096}}
	cmd.Stderr = p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start a relay process: %w", err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			switch sc.Text() {
			case "p":
				select {
				case p.handed <- struct{}{}:
				default:
				}
			case "ready":
				close(p.ready)
			}
		}
		p.err = cmd.Wait()
		close(p.exited)
	}()
	select {
	case <-p.ready:
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("a relay process exited before it ran: %v: %s", p.err, p.stderr)
	case <-time.After(wait):
		p.kill()
		return nil, fmt.Errorf("a relay process not running after %v: %s", wait, p.stderr)
	}
}

// kill SIGKILLs the process and waits until it exited.
func (p *relayProc) kill() {
	p.killed = true
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// stop ends the process with SIGTERM (the relay settles what is in
// flight and returns); it reports an error, and SIGKILLs it, when it has
// not exited within wait.
func (p *relayProc) stop(wait time.Duration) error {
	p.killed = true
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if p.err != nil {
			return fmt.Errorf("a relay process stopped with %v: %s", p.err, p.stderr)
		}
		return nil
	case <-time.After(wait):
		p.kill()
		return fmt.Errorf("a relay process did not stop within %v of SIGTERM (a hang): %s", wait, p.stderr)
	}
}

// check reports an exit the suite did not cause.
func (p *relayProc) check() error {
	select {
	case <-p.exited:
		if !p.killed {
			return fmt.Errorf("a relay process exited: %v: %s", p.err, p.stderr)
		}
	default:
	}
	return nil
}

// cpu is the CPU time the process used (user and system); 0 while it runs.
func (p *relayProc) cpu() time.Duration {
	select {
	case <-p.exited:
		if st := p.cmd.ProcessState; st != nil {
			return st.UserTime() + st.SystemTime()
		}
	default:
	}
	return 0
}
