package kafka

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/internal/tcpproxy"
)

// brokerURL returns HERALD_TEST_KAFKA, or skips (fails under
// HERALD_REQUIRE_BROKERS=1).
func brokerURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("HERALD_TEST_KAFKA")
	if u == "" {
		if os.Getenv("HERALD_REQUIRE_BROKERS") == "1" {
			tb.Fatal("HERALD_TEST_KAFKA is not set (HERALD_REQUIRE_BROKERS=1)")
		}
		tb.Skip("HERALD_TEST_KAFKA is not set (scripts/brokers.sh up kafka)")
	}
	return u
}

// withQuery appends query (k=v&...) to a target URL.
func withQuery(target, query string) string {
	if query == "" {
		return target
	}
	if strings.Contains(target, "?") {
		return target + "&" + query
	}
	return target + "?" + query
}

// brokers returns the host:port list of a kafka:// target.
func brokers(tb testing.TB, target string) []string {
	tb.Helper()
	u, err := url.Parse(target)
	if err != nil {
		tb.Fatal(err)
	}
	return strings.Split(u.Host, ",")
}

// testSettings parses target and applies mods.
func testSettings(tb testing.TB, target string, mods ...func(*settings)) settings {
	tb.Helper()
	cfg, err := herald.ParseURL(target)
	if err != nil {
		tb.Fatalf("ParseURL(%q): %v", target, err)
	}
	s, err := parse(cfg)
	if err != nil {
		tb.Fatalf("parse(%q): %v", target, err)
	}
	for _, m := range mods {
		m(&s)
	}
	return s
}

// openTopic opens the driver's Topic for target.
func openTopic(tb testing.TB, target string, mods ...func(*settings)) *topic {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t, err := newTopic(ctx, testSettings(tb, target, mods...), testLogger(tb))
	if err != nil {
		tb.Fatalf("open topic on %s: %v", target, err)
	}
	tb.Cleanup(func() { _ = t.Close(context.Background()) })
	return t
}

// openSubscription opens the driver's Subscription for target.
func openSubscription(tb testing.TB, target string, mods ...func(*settings)) *subscription {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := newSubscription(ctx, testSettings(tb, target, mods...), testLogger(tb))
	if err != nil {
		tb.Fatalf("open subscription on %s: %v", target, err)
	}
	tb.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// openStream opens a stream of sub on topic with window; status may be nil.
func openStream(tb testing.TB, sub *subscription, topic string, window int, status func(error)) *stream {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := sub.Open(ctx, topic, adapters.StreamOptions{Window: window, Status: status})
	if err != nil {
		tb.Fatalf("Open(%q): %v", topic, err)
	}
	tb.Cleanup(func() { _ = st.Close(context.Background()) })
	return st.(*stream)
}

// sendSync sends msgs in order and waits for every done; it fails on an
// error.
func sendSync(tb testing.TB, tp *topic, name string, msgs ...*herald.Message) {
	tb.Helper()
	sendSyncWith(tb, tp, name, adapters.SendOptions{}, msgs...)
}

// sendSyncWith is sendSync with the send options o.
func sendSyncWith(tb testing.TB, tp *topic, name string, o adapters.SendOptions, msgs ...*herald.Message) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errs := make(chan error, len(msgs))
	for _, m := range msgs {
		if err := tp.Send(ctx, name, m, o, func(err error) { errs <- err }); err != nil {
			tb.Fatalf("Send(%q): %v", name, err)
		}
	}
	for range msgs {
		if err := <-errs; err != nil {
			tb.Fatalf("Send(%q) done: %v", name, err)
		}
	}
}

// sendOne sends m with ctx and returns done's error.
func sendOne(ctx context.Context, tp *topic, name string, m *herald.Message) error {
	errs := make(chan error, 1)
	if err := tp.Send(ctx, name, m, adapters.SendOptions{}, func(err error) { errs <- err }); err != nil {
		return err
	}
	return <-errs
}

func newMessages(n int, prefix string) []*herald.Message {
	msgs := make([]*herald.Message, n)
	for i := range msgs {
		msgs[i] = herald.NewMessage([]byte(fmt.Sprintf("%s-%d", prefix, i)))
	}
	return msgs
}

// receiveN takes n deliveries from st within d.
func receiveN(tb testing.TB, st adapters.Stream, n int, d time.Duration) []adapters.Received {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var got []adapters.Received
	buf := make([]adapters.Received, 32)
	for len(got) < n {
		k, err := st.Receive(ctx, buf[:min(len(buf), n-len(got))])
		if err != nil {
			tb.Fatalf("received %d of %d deliveries: %v", len(got), n, err)
		}
		got = append(got, buf[:k]...)
	}
	return got
}

// receiveNone checks that st hands out nothing for d.
func receiveNone(tb testing.TB, st adapters.Stream, d time.Duration) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	buf := make([]adapters.Received, 8)
	if k, err := st.Receive(ctx, buf); err == nil {
		tb.Fatalf("unexpected deliveries: %d, the first %q", k, buf[0].Msg.Payload)
	}
}

func kadmClient(tb testing.TB, target string) *kadm.Client {
	tb.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers(tb, target)...))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// committed returns the group's committed offsets of topic by partition.
func committed(tb testing.TB, target, group, topic string) map[int32]kadm.OffsetResponse {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	offs, err := kadmClient(tb, target).FetchOffsets(ctx, group)
	if err != nil {
		tb.Fatal(err)
	}
	out := map[int32]kadm.OffsetResponse{}
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic && o.Err == nil {
			out[o.Partition] = o
		}
	})
	return out
}

// createTopic creates topic with partitions (one replica).
func createTopic(tb testing.TB, target, topic string, partitions int32) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := openSubscription(tb, withQuery(target, fmt.Sprintf("partitions=%d", partitions)))
	if err := adm.Prepare(ctx, topic); err != nil {
		tb.Fatal(err)
	}
}

// proxied routes every connection of a client through a proxy to the
// broker at target (the brokers advertise their own address, so the
// proxy replaces the dialer, not the seed address): p.Blackhole and
// p.Down then cut the client off without touching the broker.
func proxied(tb testing.TB, target string) (*tcpproxy.Proxy, func(*settings)) {
	tb.Helper()
	p, err := tcpproxy.Listen("127.0.0.1:0", brokers(tb, target)[0])
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(p.Close)
	return p, func(s *settings) {
		s.dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, p.Addr())
		}
	}
}

// statusLog records what a stream reports through StreamOptions.Status.
type statusLog struct {
	mu      sync.Mutex
	reports []error
	changed chan struct{} // receives after each report (buffered)
}

func newStatusLog() *statusLog { return &statusLog{changed: make(chan struct{}, 100)} }

func (s *statusLog) report(err error) {
	s.mu.Lock()
	s.reports = append(s.reports, err)
	s.mu.Unlock()
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

func (s *statusLog) all() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.reports...)
}

// wait waits until the latest report satisfies ok.
func (s *statusLog) wait(tb testing.TB, what string, d time.Duration, ok func(error) bool) {
	tb.Helper()
	deadline := time.After(d)
	for {
		if r := s.all(); len(r) > 0 && ok(r[len(r)-1]) {
			return
		}
		select {
		case <-s.changed:
		case <-deadline:
			tb.Fatalf("no status report %s within %v; reports: %v", what, d, s.all())
		}
	}
}

// testLogger is the drivers' logger in tests: stderr at debug level with
// HERALD_KAFKA_DEBUG=1, else nothing.
func testLogger(testing.TB) *slog.Logger {
	if os.Getenv("HERALD_KAFKA_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// logCapture is a slog.Handler that keeps the records' levels and
// messages.
type logCapture struct {
	mu    sync.Mutex
	lines []string
	warns int
}

func (c *logCapture) Enabled(context.Context, slog.Level) bool { return true }

func (c *logCapture) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, r.Level.String()+" "+r.Message)
	if r.Level >= slog.LevelWarn {
		c.warns++
	}
	return nil
}

func (c *logCapture) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *logCapture) WithGroup(string) slog.Handler      { return c }

func (c *logCapture) warnings() (int, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.warns, strings.Join(c.lines, "\n")
}

// rawClient is a plain franz-go client of another application.
func rawClient(tb testing.TB, target string, opts ...kgo.Opt) *kgo.Client {
	tb.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers(tb, target)...)}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(cl.Close)
	return cl
}

func slogOf(h slog.Handler) *slog.Logger { return slog.New(h) }
