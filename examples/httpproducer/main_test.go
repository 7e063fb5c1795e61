package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters/adaptertest"
	"github.com/heraldkit/herald/heraldtest"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// service is the example running in the test process.
type service struct {
	url    string // http://127.0.0.1:port
	addr   string
	cancel context.CancelFunc // what SIGTERM does
	done   chan error         // run's result
}

// testConfig is the default configuration with a topic of the test's own.
func testConfig(t *testing.T) config {
	cfg, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	id := herald.NewID()
	cfg.Topic, cfg.HealthTopic = "orders.created."+id, "httpproducer.healthz."+id
	return cfg
}

// start runs the service on target until the test ends.
func start(t *testing.T, cfg config, target string, opts ...publisher.Option) *service {
	t.Helper()
	cfg.Target = target
	// A port of the OS's choosing: a fixed one reused by the next test
	// would meet the previous server's keep-alive connections in
	// http.DefaultClient's pool (a POST on one of them fails with EOF).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &service{url: "http://" + ln.Addr().String(), addr: ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- run(ctx, cfg, ln, slog.New(slog.DiscardHandler), opts...) }()
	t.Cleanup(func() {
		defer http.DefaultClient.CloseIdleConnections()
		cancel()
		select {
		case err := <-s.done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("run did not return 30 s after its context ended")
		}
	})
	return s
}

// post sends body to path and returns the status, the Retry-After header
// and the decoded JSON answer.
func post(t *testing.T, url, body string) (int, string, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("POST %s: %d answer is not JSON: %q", url, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), out
}

// get returns the status and body of a GET.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

func orderJSON(id string) string {
	return fmt.Sprintf(`{"id":%q,"customer":"c-1","amount_cents":1250,"currency":"EUR"}`, id)
}

// received collects the messages of a topic by order key.
type received struct {
	mu   sync.Mutex
	msgs map[string]*herald.Message
	got  chan struct{} // a message came in
}

// consume subscribes to topic on target in a group of the test's own
// (which starts at the topic's first message) until the test ends.
func consume(t *testing.T, target, topic string) *received {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sub, err := subscriber.Open(ctx, target, subscriber.WithGroup("httpproducer-test-"+herald.NewID()),
		subscriber.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	r := &received{msgs: map[string]*herald.Message{}, got: make(chan struct{}, 1)}
	done := make(chan error, 1)
	go func() {
		done <- sub.Subscribe(ctx, topic, func(ctx context.Context, m *herald.Message) error {
			r.mu.Lock()
			r.msgs[herald.Key(m)] = m
			r.mu.Unlock()
			select {
			case r.got <- struct{}{}:
			default:
			}
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("subscribe: %v", err)
		}
		_ = sub.Close()
	})
	return r
}

// waitFor waits until every key arrived and returns their messages.
func (r *received) waitFor(t *testing.T, keys ...string) map[string]*herald.Message {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		r.mu.Lock()
		missing := 0
		for _, k := range keys {
			if r.msgs[k] == nil {
				missing++
			}
		}
		out := make(map[string]*herald.Message, len(r.msgs))
		for k, m := range r.msgs {
			out[k] = m
		}
		r.mu.Unlock()
		if missing == 0 {
			return out
		}
		select {
		case <-r.got:
		case <-deadline:
			t.Fatalf("%d of %d orders did not arrive in 30 s", missing, len(keys))
		}
	}
}

// TestAccepted: 202 only after the broker has the order, the message
// carries the order ID as key and the answered message ID; a bulk request
// publishes every order; /healthz and /metrics report it.
func TestAccepted(t *testing.T) {
	targets := map[string]func(t *testing.T) string{
		"embedded": func(t *testing.T) string { return "embedded://" + t.TempDir() },
		"kafka":    func(t *testing.T) string { return adaptertest.BrokerURL(t, "HERALD_TEST_KAFKA") },
	}
	for name, target := range targets {
		t.Run(name, func(t *testing.T) {
			target := target(t)
			cfg := testConfig(t)
			svc := start(t, cfg, target)
			rec := consume(t, target, cfg.Topic)

			code, _, body := post(t, svc.url+"/orders", orderJSON("o-1"))
			if code != http.StatusAccepted || body["id"] != "o-1" || body["message_id"] == "" {
				t.Fatalf("POST /orders = %d %v, want 202 with id and message_id", code, body)
			}
			var bulk []string
			var keys []string
			for i := range 50 {
				id := fmt.Sprintf("b-%02d", i)
				bulk, keys = append(bulk, orderJSON(id)), append(keys, id)
			}
			code, _, bbody := post(t, svc.url+"/orders/bulk", "["+strings.Join(bulk, ",")+"]")
			if code != http.StatusAccepted || bbody["accepted"] != 50.0 {
				t.Fatalf("POST /orders/bulk = %d %v, want 202 and 50 accepted", code, bbody)
			}

			got := rec.waitFor(t, append(keys, "o-1")...)
			if m := got["o-1"]; m.UUID != body["message_id"] {
				t.Errorf("message ID %s, the answer said %v", m.UUID, body["message_id"])
			}
			var o Order
			if err := json.Unmarshal(got["o-1"].Payload, &o); err != nil || o != (Order{"o-1", "c-1", 1250, "EUR"}) {
				t.Errorf("payload %s (%v)", got["o-1"].Payload, err)
			}
			for i, r := range bbody["results"].([]any) {
				res := r.(map[string]any)
				if m := got[keys[i]]; res["id"] != keys[i] || res["status"] != "accepted" || m.UUID != res["message_id"] {
					t.Errorf("bulk result %d = %v; message %s", i, res, m.UUID)
				}
			}

			if code, body := get(t, svc.url+"/healthz"); code != http.StatusOK || !strings.Contains(body, `"reachable"`) {
				t.Errorf("GET /healthz = %d %s", code, body)
			}
			_, metrics := get(t, svc.url+"/metrics")
			for _, want := range []string{
				"httpproducer_orders_published_total 51\n", // not the health probe
				`httpproducer_http_requests_total{code="202",handler="orders"} 1`,
				`httpproducer_http_requests_total{code="202",handler="orders_bulk"} 1`,
			} {
				if !strings.Contains(metrics, want) {
					t.Errorf("/metrics lacks %q", want)
				}
			}
			// One observation per try and order: more if a try timed out (a slow topic creation).
			if n := sum(metrics, "httpproducer_publish_duration_seconds_count"); n < 51 {
				t.Errorf("publish latency observed %v times, want at least 51", n)
			}
		})
	}
}

// TestBadRequest: each invalid body is a 400 naming the field, and a bulk
// request with one invalid order publishes nothing.
func TestBadRequest(t *testing.T) {
	cfg := testConfig(t)
	h := heraldtest.New(t)
	svc := start(t, cfg, h.URL())
	for _, c := range []struct{ body, field, problem string }{
		{``, "body", "empty"},
		{`{"id":`, "body", "truncated"},
		{`{"id" "a"}`, "body", "invalid JSON"},
		{`[1]`, "body", "must be a JSON object"},
		{`{"customer":"c","amount_cents":1,"currency":"EUR"}`, "id", "required"},
		{`{"id":"a b","customer":"c","amount_cents":1,"currency":"EUR"}`, "id", "letters, digits"},
		{`{"id":"a","amount_cents":1,"currency":"EUR"}`, "customer", "required"},
		{`{"id":"a","customer":"c","amount_cents":0,"currency":"EUR"}`, "amount_cents", "positive"},
		{`{"id":"a","customer":"c","amount_cents":"12","currency":"EUR"}`, "amount_cents", "must be a JSON number"},
		{`{"id":"a","customer":"c","amount_cents":1,"currency":"eur"}`, "currency", "ISO 4217"},
		{`{"id":"a","customer":"c","amount_cents":1,"currency":"EUR","coupon":"x"}`, "coupon", "unknown field"},
		{`{"id":"a","customer":"c","amount_cents":1,"currency":"EUR"} {}`, "body", "one JSON value"},
	} {
		code, _, body := post(t, svc.url+"/orders", c.body)
		if code != http.StatusBadRequest || body["field"] != c.field || !strings.Contains(fmt.Sprint(body["error"]), c.problem) {
			t.Errorf("POST /orders %s = %d %v, want 400 field %q error containing %q", c.body, code, body, c.field, c.problem)
		}
	}
	code, _, body := post(t, svc.url+"/orders/bulk", "["+orderJSON("ok-1")+`,{"id":"bad"},`+orderJSON("ok-1")+"]")
	results, _ := body["results"].([]any)
	if code != http.StatusBadRequest || len(results) != 2 || !strings.Contains(fmt.Sprint(body["error"]), "nothing was published") {
		t.Fatalf("bulk with invalid orders = %d %v, want 400 with 2 invalid", code, body)
	}
	if r := results[0].(map[string]any); r["index"] != 1.0 || r["field"] != "customer" {
		t.Errorf("first invalid order: %v", r)
	}
	if r := results[1].(map[string]any); r["index"] != 2.0 || !strings.Contains(fmt.Sprint(r["error"]), "duplicate of order 0") {
		t.Errorf("second invalid order: %v", r)
	}
	if code, _, body := post(t, svc.url+"/orders/bulk", `[]`); code != http.StatusBadRequest || body["field"] != "body" {
		t.Errorf("empty bulk = %d %v", code, body)
	}
	if _, metrics := get(t, svc.url+"/metrics"); !strings.Contains(metrics, "httpproducer_orders_published_total 0\n") {
		t.Errorf("an invalid request published something:\n%s", metrics)
	}
	if got := h.Published(cfg.Topic); len(got) != 0 {
		t.Errorf("an invalid request published %d orders", len(got)) // exact: Publish returned before the answer
	}
}

// TestUnavailable: with the broker unreachable, an order is tried
// -attempts times and answered 503 with Retry-After, /healthz answers 503;
// once the broker is back both recover.
func TestUnavailable(t *testing.T) {
	proxy := adaptertest.NewProxy(t, startNATS(t))
	cfg := testConfig(t)
	cfg.Retry = retryPolicy{Attempts: 2, AttemptTimeout: 300 * time.Millisecond, Backoff: 50 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}
	cfg.HealthTimeout = 300 * time.Millisecond
	svc := start(t, cfg, "nats://"+proxy.Addr()+"?reconnect_wait=50ms")

	if code, _, body := post(t, svc.url+"/orders", orderJSON("before")); code != http.StatusAccepted {
		t.Fatalf("broker up: POST /orders = %d %v", code, body)
	}
	proxy.Down()
	start := time.Now()
	code, retryAfter, body := post(t, svc.url+"/orders", orderJSON("during"))
	if code != http.StatusServiceUnavailable || retryAfter != "5" || body["id"] != "during" {
		t.Errorf("broker down: POST /orders = %d Retry-After %q %v, want 503 with Retry-After 5", code, retryAfter, body)
	}
	if took := time.Since(start); took < 2*300*time.Millisecond || took > 10*time.Second {
		t.Errorf("503 after %v, want about 2 tries of 300ms", took)
	}
	code, retryAfter, body = post(t, svc.url+"/orders/bulk", "["+orderJSON("d-1")+","+orderJSON("d-2")+"]")
	if code != http.StatusServiceUnavailable || retryAfter == "" || body["unavailable"] != 2.0 {
		t.Errorf("broker down: POST /orders/bulk = %d Retry-After %q %v", code, retryAfter, body)
	}
	if code, body := get(t, svc.url+"/healthz"); code != http.StatusServiceUnavailable || !strings.Contains(body, `"broker":"unreachable"`) {
		t.Errorf("broker down: GET /healthz = %d %s, want 503 unreachable", code, body)
	}
	_, metrics := get(t, svc.url+"/metrics")
	if n := sum(metrics, "httpproducer_publish_failures_total{"); n != 6 { // 2 tries x (1 + 2 bulk orders)
		t.Errorf("/metrics counts %v failed tries, want 6:\n%s", n, grep(metrics, "failures"))
	}

	proxy.Up()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body := get(t, svc.url+"/healthz") // a probe result is cached for 1 s
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("broker back: /healthz still %d %s after 20 s", code, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code, _, body := post(t, svc.url+"/orders", orderJSON("after")); code != http.StatusAccepted {
		t.Errorf("broker back: POST /orders = %d %v", code, body)
	}
}

// sum adds the values of the metric lines of s starting with prefix.
func sum(s, prefix string) float64 {
	var n float64
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			var v float64
			_, _ = fmt.Sscan(l[strings.LastIndexByte(l, ' ')+1:], &v)
			n += v
		}
	}
	return n
}

// grep returns the lines of s containing sub.
func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestShutdownFlushes: what SIGTERM does (run's context ending) while an
// order is being published: new connections are refused at once, the
// order in flight still gets its 202 once the broker has it, the message
// arrives, and run returns nil (exit 0).
func TestShutdownFlushes(t *testing.T) {
	target := "embedded://" + t.TempDir()
	cfg := testConfig(t)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	hold := func(next herald.PublishFunc) herald.PublishFunc { // the broker is slow to answer the first order
		return func(ctx context.Context, topic string, msgs ...*herald.Message) error {
			if topic == cfg.Topic {
				once.Do(func() { close(entered); <-release })
			}
			return next(ctx, topic, msgs...)
		}
	}
	rec := consume(t, target, cfg.Topic)
	cfg.Target = target
	// A port of the OS's choosing: a fixed one reused by the next test
	// would meet the previous server's keep-alive connections in
	// http.DefaultClient's pool (a POST on one of them fails with EOF).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, sigterm := context.WithCancel(context.Background())
	defer sigterm()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, cfg, ln, slog.New(slog.DiscardHandler), publisher.WithMiddleware(hold))
	}()
	url := "http://" + ln.Addr().String()

	type answer struct {
		code int
		body map[string]any
	}
	answered := make(chan answer, 1)
	go func() {
		resp, err := http.Post(url+"/orders", "application/json", bytes.NewReader([]byte(orderJSON("in-flight"))))
		if err != nil {
			t.Errorf("in-flight POST: %v", err)
			answered <- answer{}
			return
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		answered <- answer{resp.StatusCode, body}
	}()
	<-entered
	sigterm()
	deadline := time.Now().Add(10 * time.Second)
	for { // the listener closes soon after the signal
		c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting connections 10 s after SIGTERM")
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("run returned (%v) with a publish in flight", err)
	default:
	}
	close(release)
	a := <-answered
	if a.code != http.StatusAccepted || a.body["message_id"] == nil {
		t.Fatalf("in-flight order answered %d %v, want 202", a.code, a.body)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after SIGTERM")
	}
	if m := rec.waitFor(t, "in-flight")["in-flight"]; m.UUID != a.body["message_id"] {
		t.Errorf("message ID %s, answered %v", m.UUID, a.body["message_id"])
	}
}
