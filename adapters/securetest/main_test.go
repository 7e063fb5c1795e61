package securetest_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters/adaptertest"
	"github.com/heraldkit/herald/adapters/adaptertest/certs"
	_ "github.com/heraldkit/herald/adapters/all"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// The brokers of this package listen on 127.0.0.1, on ports from this
// range (free ones, picked at start: two runs at once do not collide).
const (
	portMin = 17000
	portMax = 17999
)

var (
	portMu   sync.Mutex
	portUsed = map[int]bool{}
)

// freePort returns a port of the range that nothing listens on, not
// handed out before in this run.
func freePort() (int, error) {
	portMu.Lock()
	defer portMu.Unlock()
	n := portMax - portMin + 1
	start := rand.IntN(n)
	for i := range n {
		p := portMin + (start+i)%n
		if portUsed[p] {
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		_ = ln.Close()
		portUsed[p] = true
		return p, nil
	}
	return 0, fmt.Errorf("no free port in 127.0.0.1:%d-%d", portMin, portMax)
}

// freePorts returns n ports of freePort.
func freePorts(n int) ([]int, error) {
	out := make([]int, n)
	for i := range out {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

// Credentials of the test users. They are secrets as far as the tests
// are concerned: none may appear in an error or a log line.
const (
	appUser     = "app"
	appPassword = "s3cr3t-app-Pa55word"
	roUser      = "ro"
	roPassword  = "s3cr3t-ro-Pa55word"
	badPassword = "s3cr3t-WRONG-Pa55word"
)

// tlsFiles is the certificate set of the run, made by TestMain.
var tlsFiles *certs.Set

// stops are the functions that stop the brokers started, run by TestMain.
var (
	stopMu sync.Mutex
	stops  []func()
)

func atEnd(f func()) {
	stopMu.Lock()
	stops = append(stops, f)
	stopMu.Unlock()
}

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "herald-securetest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tlsFiles, err = certs.New(dir + "/certs")
	if err != nil {
		fmt.Fprintln(os.Stderr, "certs:", err)
		os.Exit(1)
	}
	workDir = dir
	code := m.Run()
	stopMu.Lock()
	for i := len(stops) - 1; i >= 0; i-- {
		stops[i]()
	}
	stopMu.Unlock()
	if code == 0 {
		_ = os.RemoveAll(dir)
	} else {
		fmt.Fprintf(os.Stderr, "securetest: broker files and logs kept in %s\n", dir)
	}
	os.Exit(code)
}

// workDir holds the certificates and the brokers' data and logs.
var workDir string

// skipShort skips under -short: these tests start brokers.
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: starts secured brokers of its own")
	}
}

// brokerUnavailable fails the test (HERALD_REQUIRE_BROKERS=1) or skips it:
// a secured broker could not be started.
func brokerUnavailable(t *testing.T, err error) {
	t.Helper()
	msg := "secured broker unavailable: " + err.Error()
	if os.Getenv("HERALD_REQUIRE_BROKERS") == "1" {
		t.Fatal(msg + " (HERALD_REQUIRE_BROKERS=1: a broker that cannot start is a failure)")
	}
	t.Skip(msg)
}

// once starts a broker at most once per run and remembers the outcome.
type once[T any] struct {
	o   sync.Once
	v   T
	err error
}

func (o *once[T]) get(start func() (T, error)) (T, error) {
	o.o.Do(func() { o.v, o.err = start() })
	return o.v, o.err
}

// logs captures what Herald logs, at every level (debug included).
type logs struct {
	sink *adaptertest.LogSink
	log  *slog.Logger
}

func newLogs() *logs {
	sink := &adaptertest.LogSink{}
	return &logs{sink: sink, log: slog.New(sink)}
}

// secrets returns what must never appear in errors or logs: the
// passwords, the nkey seed and the lines of every private key PEM.
func secrets(t *testing.T) []string {
	t.Helper()
	out := []string{appPassword, roPassword, badPassword, noReadPassword}
	if nkeySeed != "" {
		out = append(out, nkeySeed)
	}
	keys, err := tlsFiles.KeyPEMs()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		for _, line := range bytes.Split(k, []byte("\n")) {
			if len(line) >= 16 && !bytes.HasPrefix(line, []byte("-----")) {
				out = append(out, string(line))
			}
		}
	}
	return out
}

// noSecrets fails the test if text holds a secret.
func noSecrets(t *testing.T, what, text string) {
	t.Helper()
	for _, s := range secrets(t) {
		if strings.Contains(text, s) {
			t.Errorf("%s holds a secret (%.6s...):\n%s", what, s, text)
		}
	}
}

// checkLogs fails the test if the captured logs hold a secret.
func (l *logs) check(t *testing.T) {
	t.Helper()
	noSecrets(t, "the debug log", l.sink.String())
}

// roundTrip publishes one message over target and consumes it in group,
// with l capturing both sides' logs.
func roundTrip(t *testing.T, target, topic string, l *logs) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ready := make(chan struct{})
	sub, err := subscriber.Open(ctx, target, subscriber.WithLogger(l.log), subscriber.WithGroup("secure"),
		subscriber.WithReady(func(string) { close(ready) }))
	if err != nil {
		noSecrets(t, "the error", err.Error())
		t.Fatalf("subscriber.Open: %v", err)
	}
	defer sub.Close()
	pub, err := publisher.Open(ctx, target, publisher.WithLogger(l.log))
	if err != nil {
		noSecrets(t, "the error", err.Error())
		t.Fatalf("publisher.Open: %v", err)
	}
	defer pub.Close()

	got := make(chan string, 1)
	subCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- sub.Subscribe(subCtx, topic, func(_ context.Context, m *herald.Message) error {
			select {
			case got <- string(m.Payload):
			default:
			}
			return nil
		})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Subscribe: %v", err)
	case <-ctx.Done():
		t.Fatal("subscription not ready within 60s")
	}
	if err := pub.Publish(ctx, topic, herald.NewMessage([]byte("over TLS"))); err != nil {
		stop()
		t.Fatalf("Publish: %v", err)
	}
	select {
	case p := <-got:
		if p != "over TLS" {
			t.Errorf("consumed %q, want %q", p, "over TLS")
		}
	case err := <-done:
		t.Fatalf("Subscribe returned before a message: %v", err)
	case <-ctx.Done():
		t.Fatalf("no message consumed within 60s")
	}
	stop()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("Subscribe: %v", err)
	}
}

// openFails opens a publisher, then a subscriber, on target: each must
// fail within limit with an error holding every one of want (and no
// secret). It returns the publisher's error.
func openFails(t *testing.T, target string, limit time.Duration, l *logs, want ...string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	pub, err := publisher.Open(ctx, target, publisher.WithLogger(l.log))
	took := time.Since(start)
	if err == nil {
		_ = pub.Close()
		t.Fatalf("publisher.Open succeeded, want an error naming %q", want)
	}
	t.Logf("publisher.Open: error after %v: %v", took.Round(time.Millisecond), err)
	checkError(t, err, want...)
	if took > limit {
		t.Errorf("publisher.Open: the error took %v, want under %v (not a transient failure: no waiting)", took, limit)
	}

	start = time.Now()
	sub, serr := subscriber.Open(ctx, target, subscriber.WithLogger(l.log), subscriber.WithGroup("secure"))
	took = time.Since(start)
	if serr == nil {
		_ = sub.Close()
		t.Fatalf("subscriber.Open succeeded, want an error naming %q", want)
	}
	checkError(t, serr, want...)
	if took > limit {
		t.Errorf("subscriber.Open: the error took %v, want under %v", took, limit)
	}
	return err
}

// checkError fails the test unless err holds every one of want, and no
// secret.
func checkError(t *testing.T, err error, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
	noSecrets(t, "the error", err.Error())
	if errors.Is(err, herald.ErrUnreachable) {
		t.Errorf("error %q wraps herald.ErrUnreachable; a TLS or authentication failure is not an unreachable broker", err)
	}
}

func containsAny(s string, subs ...string) bool {
	for _, x := range subs {
		if x != "" && strings.Contains(s, x) {
			return true
		}
	}
	return false
}

// publishDenied publishes as a user without write permission on topic:
// Publish and PublishAsync must each fail within 5s (a refused permission
// is not transient) with an error holding every one of want.
func publishDenied(t *testing.T, target, topic string, want ...string) {
	t.Helper()
	l := newLogs()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub, err := publisher.Open(ctx, target, publisher.WithLogger(l.log), publisher.WithPublishTimeout(20*time.Second))
	if err != nil {
		t.Fatalf("publisher.Open: %v", err)
	}
	defer pub.Close()
	start := time.Now()
	err = pub.Publish(ctx, topic, herald.NewMessage([]byte("not allowed")))
	took := time.Since(start)
	if err == nil {
		t.Fatalf("Publish to %s succeeded; the user may not write there", topic)
	}
	t.Logf("Publish: error after %v: %v", took.Round(time.Millisecond), err)
	checkError(t, err, want...)
	if took > 5*time.Second {
		t.Errorf("Publish: the error took %v, want under 5s (a refused permission is not transient)", took)
	}

	start = time.Now()
	done := make(chan error, 1)
	if err := pub.PublishAsync(ctx, topic, herald.NewMessage([]byte("not allowed either")), func(_ *herald.Message, err error) { done <- err }); err != nil {
		t.Logf("PublishAsync: refused at once: %v", err)
		checkError(t, err, want...)
	} else {
		select {
		case err := <-done:
			took = time.Since(start)
			if err == nil {
				t.Fatalf("PublishAsync to %s succeeded; the user may not write there", topic)
			}
			t.Logf("PublishAsync: error after %v: %v", took.Round(time.Millisecond), err)
			checkError(t, err, want...)
			if took > 5*time.Second {
				t.Errorf("PublishAsync: the error took %v, want under 5s", took)
			}
		case <-ctx.Done():
			t.Fatal("PublishAsync: done not called within 30s")
		}
	}
	l.check(t)
}
