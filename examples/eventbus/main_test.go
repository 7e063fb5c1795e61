package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters/adaptertest"
	"github.com/heraldkit/herald/heraldtest"
)

// TestMain lets the test binary stand in for the example's binary: with
// EVENTBUS_AS_MAIN=1 it runs the command with its arguments, so the tests
// start the services as separate processes without building anything.
func TestMain(m *testing.M) {
	if os.Getenv("EVENTBUS_AS_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// wantLines are the lines a run with -orders 3 -malformed 1 prints.
func wantLines() []string {
	var want []string
	for i := 1; i <= 3; i++ {
		id := fmt.Sprintf("order-%d", i)
		want = append(want,
			"orders: published OrderCreated "+id,
			"inventory: reserved 2 item(s) for "+id+" as res-"+id,
			fmt.Sprintf("payments: charged %s %.2f as pay-%s", id, float64(i)*12.5+1.25, id),
			"audit: OrderCreated "+id,
			"audit: InventoryReserved "+id+" as res-"+id,
			"audit: PaymentCompleted "+id)
	}
	for _, g := range []string{"inventory", "payments", "audit"} {
		want = append(want, "from group "+g+" on ")
	}
	return want
}

// check asserts out has every wanted line, each event handled once per
// group (no line twice), and three dead-lettered copies naming the
// decode error.
func check(t *testing.T, out string) {
	t.Helper()
	for _, w := range wantLines() {
		if n := strings.Count(out, w); n != 1 {
			t.Errorf("%q appears %d times, want once", w, n)
		}
	}
	if n := strings.Count(out, "(permanent): herald: message "); n != 3 {
		t.Errorf("%d dead-lettered copies, want 3 (one per group)", n)
	}
	if !strings.Contains(out, "cannot unmarshal string into Go struct field OrderCreated.total") {
		t.Errorf("the dead-letter lines lack the decode error")
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

// TestAllInOneProcess runs every service in one process, on the test
// harness (in memory) and on the embedded broker (the default).
func TestAllInOneProcess(t *testing.T) {
	h := heraldtest.New(t)
	for name, target := range map[string]string{"harness": h.URL(), "embedded": "embedded://" + t.TempDir()} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var out, errOut bytes.Buffer
			if err := run(ctx, []string{"-target", target, "-orders", "3", "-malformed", "1"}, &out, &errOut); err != nil {
				t.Fatalf("run: %v\nstderr:\n%s", err, errOut.String())
			}
			check(t, out.String())
			if !strings.Contains(out.String(), "all: every service handled its events") {
				t.Error("no final line")
			}
			if name == "harness" {
				checkHarness(t, ctx, h)
			}
		})
	}
}

// checkHarness asserts what the harness recorded of a run with -orders 3
// -malformed 1: each order event published once, the malformed one
// dead-lettered by each of the three groups and nothing left over.
func checkHarness(t *testing.T, ctx context.Context, h *heraldtest.Harness) {
	t.Helper()
	if err := h.Drain(ctx); err != nil {
		t.Fatal(err) // something is still queued for a group
	}
	if n := len(h.Published("shop.order.created")); n != 4 {
		t.Errorf("%d order events published, want 4 (3 and the malformed one)", n)
	}
	for _, g := range []string{"inventory", "payments", "audit"} {
		if dl := h.DeadLettered("shop.order.created", g); len(dl) != 1 {
			t.Errorf("group %s dead-lettered %d order events, want 1", g, len(dl))
		}
		if f := h.Failed("shop.order.created", g); len(f) != 0 {
			t.Errorf("group %s: %d failed deliveries, want none (the malformed event is parked at once)", g, len(f))
		}
	}
	if n := len(h.Published("shop.order.created.dlq")); n != 3 {
		t.Errorf("%d dead-lettered copies published, want 3", n)
	}
}

// TestServicesAsProcesses runs each service as its own process against
// RabbitMQ, as the README does with several terminals.
func TestServicesAsProcesses(t *testing.T) {
	target := adaptertest.BrokerURL(t, "HERALD_TEST_AMQP")
	prefix := "eventbus-" + herald.NewID() // topics of this run only
	common := []string{"-target", target, "-prefix", prefix}
	var outs []*syncBuffer
	var procs []*exec.Cmd
	for role, exitAfter := range map[string]int{"inventory": 4, "payments": 4, "audit": 10, "dlq": 3} {
		out, cmd := start(t, append([]string{"-role", role, "-exit-after", fmt.Sprint(exitAfter)}, common...)...)
		outs, procs = append(outs, out), append(procs, cmd)
		out.waitFor(t, role+": ready")
	}
	ordersOut, orders := start(t, append([]string{"-role", "orders", "-orders", "3", "-malformed", "1"}, common...)...)
	outs, procs = append(outs, ordersOut), append(procs, orders)
	for _, p := range procs {
		if err := wait(p, 30*time.Second); err != nil {
			t.Fatalf("%v: %v", p.Args[1:3], err)
		}
	}
	var all strings.Builder
	for _, o := range outs {
		all.WriteString(o.String())
	}
	check(t, all.String())
}

// start runs the example with args as a process of its own.
func start(t *testing.T, args ...string) (*syncBuffer, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "EVENTBUS_AS_MAIN=1")
	out := &syncBuffer{lines: make(chan string, 100)}
	cmd.Stdout, cmd.Stderr = out, &prefixWriter{t: t, prefix: args[1]}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return out, cmd
}

// wait waits for cmd to exit successfully within d.
func wait(cmd *exec.Cmd, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		_ = cmd.Process.Kill()
		return fmt.Errorf("still running after %v", d)
	}
}

// syncBuffer collects a process's output and passes on its lines.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	partial []byte // the line being written
	lines   chan string
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	b.partial = append(b.partial, p...)
	for {
		i := bytes.IndexByte(b.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		select {
		case b.lines <- string(b.partial[:i]):
		default: // nobody waits for lines any more
		}
		b.partial = b.partial[i+1:]
	}
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor waits for a line starting with prefix.
func (b *syncBuffer) waitFor(t *testing.T, prefix string) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l := <-b.lines:
			if strings.HasPrefix(l, prefix) {
				return
			}
		case <-timeout:
			t.Fatalf("no line %q within 20s; output:\n%s", prefix, b.String())
		}
	}
}

// prefixWriter logs a process's stderr in the test log.
type prefixWriter struct {
	t      *testing.T
	prefix string
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s stderr: %s", w.prefix, strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

var _ io.Writer = (*prefixWriter)(nil)
