package adaptertest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/subscriber"
)

// Environment of the child process in testSubscriberCrash.
const (
	envCrashChild = "HERALD_ADAPTERTEST_CRASH_CHILD" // "1" in the child
	envCrashTopic = "HERALD_ADAPTERTEST_CRASH_TOPIC"
	envCrashGroup = "HERALD_ADAPTERTEST_CRASH_GROUP"
)

// testSubscriberCrash (Durable and Groups, not SingleProcess): a
// subscriber process is killed (SIGKILL) while it
// holds messages it never acked; the group's next subscriber gets every
// message. The child is this test binary, run again for this test only.
func testSubscriberCrash(t *testing.T, e *env) {
	if e.suite.CrashTarget != "" {
		s := e.suite
		s.Target = s.CrashTarget
		e = newEnv(t, s)
	}
	if os.Getenv(envCrashChild) == "1" {
		crashChild(t, e)
		return
	}
	require(t, e.caps.Durable && e.caps.Groups, "Durable and Groups")
	if e.caps.SingleProcess {
		t.Skip("the driver declares SingleProcess: no second process can reach the backend")
	}
	topic, group := e.topic("crash"), e.group("crash")
	cmd := exec.Command(os.Args[0], "-test.run", runPattern(t.Name()), "-test.count=1", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), envCrashChild+"=1", envCrashTopic+"="+topic, envCrashGroup+"="+group)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the child subscriber: %v", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		s := bufio.NewScanner(out)
		for s.Scan() {
			lines <- s.Text()
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	expect := func(prefix string) string {
		t.Helper()
		deadline := time.After(e.wait())
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("the child subscriber exited before printing %q", prefix)
				}
				if rest, found := strings.CutPrefix(l, prefix); found {
					return rest
				}
			case <-deadline:
				t.Fatalf("the child subscriber did not print %q within %v", prefix, e.wait())
			}
		}
	}
	expect("crash-child ready")
	ids := publishN(t, e.publisher(), topic, 5, "crash")
	got := expect("crash-child got ")
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("kill the child: %v", err)
	}
	_ = cmd.Wait()
	t.Logf("killed the child subscriber while it held %s unacked", got)

	ready, readyCh := readyOption()
	c := newCollector()
	e.subscribe(e.subscriber(group, ready), readyCh, topic, c.handler)
	c.waitIDs(t, e.crashWait(), ids)
}

// crashChild is the child's role: take messages, print their IDs, never
// ack, wait to be killed.
func crashChild(t *testing.T, e *env) {
	topic, group := os.Getenv(envCrashTopic), os.Getenv(envCrashGroup)
	ready := make(chan string, 1)
	sub, err := subscriber.OpenConfig(context.Background(), e.cfg,
		subscriber.WithGroup(group), subscriber.WithReady(func(s string) { ready <- s }))
	if err != nil {
		t.Fatalf("child: open: %v", err)
	}
	go func() {
		<-ready
		fmt.Println("crash-child ready")
	}()
	_ = sub.Subscribe(context.Background(), topic, func(ctx context.Context, m *herald.Message) error {
		fmt.Println("crash-child got " + m.UUID)
		select {} // hold the message until the parent kills this process
	})
}

// runPattern turns a test name into a -test.run pattern matching it alone.
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// crashWait bounds the wait for messages a killed subscriber held: the
// backend notices the dead consumer only after its session or ack timeout.
func (e *env) crashWait() time.Duration {
	if e.suite.CrashWait > 0 {
		return e.suite.CrashWait
	}
	return 2 * e.wait()
}
