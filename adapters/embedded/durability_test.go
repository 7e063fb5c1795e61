package embedded_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters/embedded"
	"github.com/heraldkit/herald/adapters/internal/natsx/natsxtest"
)

// TestMain doubles as the child process of the cross-process tests: with
// HERALD_EMBEDDED_CHILD set, it runs that role instead of the tests.
func TestMain(m *testing.M) {
	if role := os.Getenv("HERALD_EMBEDDED_CHILD"); role != "" {
		os.Exit(child(role, os.Getenv("HERALD_EMBEDDED_TARGET"), os.Getenv("HERALD_EMBEDDED_TOPIC")))
	}
	os.Exit(m.Run())
}

// child publishes 20 messages and prints their IDs. Roles: "publish"
// closes the publisher before exiting, "crash" exits without closing,
// "open" only tries to open the target (exit 3: ErrDirInUse).
func child(role, target, topic string) int {
	cfg, err := herald.ParseURL(target)
	if err != nil {
		fmt.Fprintln(os.Stderr, "parse:", err)
		return 1
	}
	pub, err := embedded.Driver{}.OpenTopic(context.Background(), cfg, natsxtest.Env())
	if errors.Is(err, embedded.ErrDirInUse) {
		fmt.Println(err)
		return 3
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 1
	}
	if role == "open" {
		_ = pub.Close(context.Background())
		return 0
	}
	ids := publishN(childTB{}, pub, topic, 20, role)
	fmt.Println(strings.Join(ids, "\n"))
	if role == "crash" {
		os.Exit(0) // no Close: the server is not shut down
	}
	if err := pub.Close(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "close:", err)
		return 1
	}
	return 0
}

// childTB is the testing.TB of the child process: failures exit 1.
type childTB struct{ testing.TB }

func (childTB) Helper() {}
func (childTB) Fatalf(f string, a ...any) {
	fmt.Fprintf(os.Stderr, f+"\n", a...)
	os.Exit(1)
}

func runChild(t *testing.T, role, target, topic string) (string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "HERALD_EMBEDDED_CHILD="+role, "HERALD_EMBEDDED_TARGET="+target, "HERALD_EMBEDDED_TOPIC="+topic)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("child %s: %v", role, err)
	}
	if stderr.Len() > 0 {
		t.Logf("child %s stderr: %s", role, stderr.String())
	}
	return strings.TrimSpace(string(out)), code
}

// TestUnconsumedSurviveRestart: messages published with no subscriber,
// and messages left unacked by a group, are consumed after the server was
// shut down (its last user closed) and started again on the same dir.
func TestUnconsumedSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	f := fixture(dir, "")
	tp := topic()

	pub := openTopic(t, f, "")
	first := publishN(t, pub, tp, 10, "before-any-subscriber")
	if err := pub.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if running, _ := embedded.Running(dir); running {
		t.Fatal("server still running after its last user closed")
	}

	// A new group starts at the first retained message.
	sub := openSubscription(t, f, "billing", "")
	st := natsxtest.OpenStream(t, sub, tp, 8, nil)
	if got := receiveIDs(t, st, 10, 10*time.Second); !equal(got, first) {
		t.Fatalf("after restart got %v, want %v", got, first)
	}
	pub = openTopic(t, f, "")
	second := publishN(t, pub, tp, 10, "second")
	if got := receiveIDs(t, st, 4, 10*time.Second); !equal(got, second[:4]) {
		t.Fatalf("got %v, want %v", got, second[:4])
	}
	_ = sub.Close(context.Background())
	_ = pub.Close(context.Background())
	if running, _ := embedded.Running(dir); running {
		t.Fatal("server still running after its last user closed")
	}

	st = natsxtest.OpenStream(t, f.OpenSubscription(t, "billing", ""), tp, 8, nil)
	start := time.Now()
	defer func() { t.Logf("unacked messages redelivered %v after the restart", time.Since(start)) }()
	// The 6 unacked come back, in order. Acks given right before the last
	// user closed can be dropped by the server's shutdown (its consumers
	// discard acks still queued), so acked messages may come back too:
	// duplicates are allowed (at-least-once), losses are not.
	unacked := map[string]bool{}
	for _, id := range second[4:] {
		unacked[id] = true
	}
	acked := map[string]bool{}
	for _, id := range second[:4] {
		acked[id] = true
	}
	var got, dups []string
	for len(got) < 6 {
		for _, id := range receiveIDs(t, st, 1, 10*time.Second) {
			switch {
			case unacked[id]:
				got = append(got, id)
			case acked[id]:
				dups = append(dups, id)
			default:
				t.Fatalf("after second restart got %s, neither unacked nor acked before", id)
			}
		}
	}
	if !equal(got, second[4:]) {
		t.Fatalf("after second restart got %v, want the 6 unacked %v", got, second[4:])
	}
	if len(dups) > 0 {
		t.Logf("%d acked messages came back after the restart (acks dropped by the server's shutdown)", len(dups))
	}
}

// TestUnconsumedSurviveProcessRestart proves it across real processes: a
// child process publishes and exits; this process consumes.
func TestUnconsumedSurviveProcessRestart(t *testing.T) {
	for _, role := range []string{"publish", "crash"} {
		t.Run(role, func(t *testing.T) {
			dir := t.TempDir()
			tp := topic()
			out, code := runChild(t, role, target(dir, ""), tp)
			if code != 0 {
				t.Fatalf("child exited %d", code)
			}
			want := strings.Split(out, "\n")
			st := natsxtest.OpenStream(t, fixture(dir, "").OpenSubscription(t, "g", ""), tp, 32, nil)
			if got := receiveIDs(t, st, len(want), 10*time.Second); !equal(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
}

// TestDirLockedAcrossProcesses: a second process cannot open a directory
// this process runs a server on.
func TestDirLockedAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	pub := openTopic(t, fixture(dir, ""), "")
	out, code := runChild(t, "open", target(dir, ""), "x")
	if code != 3 || !strings.Contains(out, strconv.Itoa(os.Getpid())) {
		t.Fatalf("child exit %d, output %q; want exit 3 (ErrDirInUse) naming pid %d", code, out, os.Getpid())
	}
	_ = pub.Close(context.Background())
	if _, code := runChild(t, "open", target(dir, ""), "x"); code != 0 {
		t.Fatalf("after close, child exit %d; want 0", code)
	}
}
