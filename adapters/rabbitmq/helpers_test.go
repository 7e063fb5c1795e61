package rabbitmq

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/internal/tcpproxy"
)

// Driver-level test helpers: the tests call the Driver directly (the
// end-to-end ones go through the publisher and subscriber packages, in
// conformance_test.go).

// brokerURL returns HERALD_TEST_AMQP or skips (fails under
// HERALD_REQUIRE_BROKERS=1); -short never touches a broker.
func brokerURL(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: broker tests are skipped (HERALD_TEST_AMQP)")
	}
	if u := os.Getenv("HERALD_TEST_AMQP"); u != "" {
		return u
	}
	msg := "HERALD_TEST_AMQP is not set: start brokers with `scripts/brokers.sh up` and eval its exports (or `make brokers`)"
	if os.Getenv("HERALD_REQUIRE_BROKERS") == "1" {
		t.Fatal(msg + " (HERALD_REQUIRE_BROKERS=1: a missing broker is a failure)")
	}
	t.Skip(msg)
	return ""
}

// brokerURLOrEmpty returns HERALD_TEST_AMQP without skipping ("" under
// -short, which never touches a broker).
func brokerURLOrEmpty() string {
	if testing.Short() {
		return ""
	}
	return os.Getenv("HERALD_TEST_AMQP")
}

// withQuery adds query parameters to a target URL.
func withQuery(target, query string) string {
	if query == "" {
		return target
	}
	if strings.Contains(target, "?") {
		return target + "&" + query
	}
	return target + "?" + query
}

// freshTopic returns a topic name no other test uses.
func freshTopic(t testing.TB) string {
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	return "herald-test." + name + "." + strings.ToLower(herald.NewID()[14:])
}

func mustConfig(t testing.TB, target string) herald.Config {
	t.Helper()
	cfg, err := herald.ParseURL(target)
	if err != nil {
		t.Fatalf("ParseURL(%q): %v", target, err)
	}
	return cfg
}

// testEnv is an Env whose logger writes to the returned buffer.
func testEnv() (adapters.Env, *logBuffer) {
	b := &logBuffer{}
	return adapters.Env{Logger: slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))}, b
}

// openTopicT opens the driver's Topic for target, closed with the test.
func openTopicT(t testing.TB, target string) *topic {
	t.Helper()
	env, _ := testEnv()
	tp, err := Driver{}.OpenTopic(t.Context(), mustConfig(t, target), env)
	if err != nil {
		t.Fatalf("OpenTopic: %v", err)
	}
	t.Cleanup(func() { _ = tp.Close(context.Background()) })
	return tp.(*topic)
}

// openSubT opens the driver's Subscription for target, closed with the
// test.
func openSubT(t testing.TB, target string) *subscription {
	t.Helper()
	env, _ := testEnv()
	s, err := Driver{}.OpenSubscription(t.Context(), mustConfig(t, target), env)
	if err != nil {
		t.Fatalf("OpenSubscription: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s.(*subscription)
}

// statusLog records what a stream reports through StreamOptions.Status.
type statusLog struct{ C chan error }

func newStatusLog() *statusLog { return &statusLog{C: make(chan error, 100)} }

func (s *statusLog) report(err error) { s.C <- err }

// next returns the next report, failing the test after wait.
func (s *statusLog) next(t testing.TB, wait time.Duration) error {
	t.Helper()
	select {
	case err := <-s.C:
		return err
	case <-time.After(wait):
		t.Fatalf("no status report within %v", wait)
		return nil
	}
}

// openStreamT opens a Stream of topic with window, closed with the test.
func openStreamT(t testing.TB, sub *subscription, topic string, window int, st *statusLog) *stream {
	t.Helper()
	o := adapters.StreamOptions{Window: window, Status: func(error) {}}
	if st != nil {
		o.Status = st.report
	}
	s, err := sub.Open(t.Context(), topic, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s.(*stream)
}

// receiveN receives exactly n deliveries within d.
func receiveN(t testing.TB, st adapters.Stream, n int, d time.Duration) []adapters.Received {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	var out []adapters.Received
	buf := make([]adapters.Received, 16)
	for len(out) < n {
		k, err := st.Receive(ctx, buf[:min(len(buf), n-len(out))])
		if err != nil {
			t.Fatalf("received %d of %d (%v): %v", len(out), n, payloads(out, false), err)
		}
		out = append(out, buf[:k]...)
	}
	return out
}

// receiveAcked receives exactly n deliveries within d, acking each as
// it comes (the window never fills).
func receiveAcked(t testing.TB, st adapters.Stream, n int, d time.Duration) []adapters.Received {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	var out []adapters.Received
	buf := make([]adapters.Received, 64)
	for len(out) < n {
		k, err := st.Receive(ctx, buf[:min(len(buf), n-len(out))])
		if err != nil {
			t.Fatalf("received %d of %d: %v", len(out), n, err)
		}
		for _, r := range buf[:k] {
			st.Ack(r.Token)
		}
		out = append(out, buf[:k]...)
	}
	return out
}

// receiveNone checks that nothing arrives within d.
func receiveNone(t testing.TB, st adapters.Stream, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	buf := make([]adapters.Received, 8)
	n, err := st.Receive(ctx, buf)
	if n > 0 {
		t.Fatalf("received %v, want nothing", payloads(buf[:n], false))
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Receive: %v; want context.DeadlineExceeded", err)
	}
}

// payloads lists the deliveries' payloads, sorted if asked.
func payloads(rs []adapters.Received, sorted bool) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, string(r.Msg.Payload))
	}
	if sorted {
		slices.Sort(out)
	}
	return out
}

func newMsg(payload string) *herald.Message { return herald.NewMessage([]byte(payload)) }

// sendWait sends m and waits for its done.
func sendWait(t testing.TB, tp adapters.Topic, ctx context.Context, topic string, m *herald.Message) error {
	t.Helper()
	return sendWaitWith(t, tp, ctx, topic, m, adapters.SendOptions{})
}

// sendWaitWith is sendWait with the send options o.
func sendWaitWith(t testing.TB, tp adapters.Topic, ctx context.Context, topic string, m *herald.Message, o adapters.SendOptions) error {
	t.Helper()
	errc := make(chan error, 1)
	if err := tp.Send(ctx, topic, m, o, func(err error) { errc <- err }); err != nil {
		return err
	}
	select {
	case err := <-errc:
		return err
	case <-time.After(60 * time.Second):
		t.Fatal("done not called within 60s")
		return nil
	}
}

// publishN sends n messages "0".."n-1" (in order, key "") and waits for
// their confirms.
func publishN(t testing.TB, tp adapters.Topic, topic string, n int) {
	t.Helper()
	rec := newDoneRecorder(n)
	for i := range n {
		m := newMsg(fmt.Sprint(i))
		if err := tp.Send(t.Context(), topic, m, adapters.SendOptions{}, rec.done(m.UUID)); err != nil {
			t.Fatal(err)
		}
	}
	rec.wait(t, 30*time.Second)
	if err := rec.firstErr(); err != nil {
		t.Fatal(err)
	}
}

// doneRecorder counts done calls per message and collects their errors.
type doneRecorder struct {
	mu    sync.Mutex
	calls map[string]int
	errs  map[string]error
	order []string // message IDs in done order
	all   chan struct{}
	want  int
}

func newDoneRecorder(want int) *doneRecorder {
	return &doneRecorder{calls: map[string]int{}, errs: map[string]error{}, all: make(chan struct{}), want: want}
}

func (r *doneRecorder) done(id string) func(error) {
	return func(err error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.calls[id]++
		r.errs[id] = err
		r.order = append(r.order, id)
		if len(r.calls) == r.want && r.calls[id] == 1 {
			close(r.all)
		}
	}
}

func (r *doneRecorder) wait(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case <-r.all:
	case <-time.After(d):
		r.mu.Lock()
		defer r.mu.Unlock()
		t.Fatalf("done called for %d of %d messages within %v", len(r.calls), r.want, d)
	}
}

func (r *doneRecorder) firstErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, err := range r.errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// viaProxy returns the test broker's URL rewritten to go through a new
// TCP proxy, and the proxy.
func viaProxy(t *testing.T) (string, *tcpproxy.Proxy) {
	t.Helper()
	u, err := url.Parse(brokerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, u.Host)
	u.Host = p.Addr()
	return u.String(), p
}

func newProxy(t testing.TB, upstream string) *tcpproxy.Proxy {
	t.Helper()
	p, err := tcpproxy.Listen("127.0.0.1:0", upstream)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// waitDown waits until c noticed that its connection is gone.
func waitDown(t *testing.T, c *connection) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		conn, changed := c.conn, c.changed
		c.mu.Unlock()
		if conn == nil {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatal("the connection was not noticed lost within 10s")
		}
	}
}

// waitWaiting waits until a call is blocked waiting for c's connection.
func waitWaiting(t *testing.T, c *connection) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		n := c.waiters
		c.mu.Unlock()
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no call waited for the connection")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// kindIs checks that err is a *herald.Error of kind for backend amqp.
func kindIs(t testing.TB, what string, err error, kind herald.Kind) {
	t.Helper()
	var he *herald.Error
	if !errors.As(err, &he) || he.Kind != kind || !errors.Is(err, kind.Sentinel()) {
		t.Errorf("%s: %v (%T); want a *herald.Error of kind %s", what, err, err, kind)
	}
}

// logBuffer is a goroutine-safe slog sink for tests.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
