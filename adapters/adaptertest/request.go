package adaptertest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/request"
	"github.com/heraldkit/herald/subscriber"
)

// The request/reply tests, end to end through request.OpenConfig,
// request.Request and a request.Responder subscribed with
// subscriber.Subscribe. They run where the driver declares a
// Capabilities.Request.Path, and check a refusal naming the backend
// where it declares none.

// echoReq and echoResp are the payloads of the request tests.
type echoReq struct {
	N    int    `json:"n"`
	Text string `json:"text"`
}

type echoResp struct {
	N    int    `json:"n"`
	Echo string `json:"echo"`
}

// client opens a request client; it is closed at cleanup.
func (e *env) client(opts ...request.Option) *request.Client {
	e.t.Helper()
	c, err := request.OpenConfig(context.Background(), e.cfg, opts...)
	if err != nil {
		e.t.Fatalf("request.OpenConfig(%s): %v", e.cfg, err)
	}
	e.t.Cleanup(func() {
		if err := c.Close(); err != nil {
			e.t.Errorf("request client Close: %v", err)
		}
	})
	return c
}

// responder subscribes fn as a responder on topic in a fresh group and
// waits until the subscription is ready; it returns the responder's
// client.
func (e *env) responder(topic string, fn func(context.Context, echoReq) (echoResp, error), opts ...subscriber.Option) *request.Client {
	e.t.Helper()
	c := e.client()
	ready, readyCh := readyOption()
	e.subscribe(e.subscriber(e.group("responder"), append(opts, ready)...), readyCh, topic, request.Responder(c, fn))
	return c
}

func echo(_ context.Context, r echoReq) (echoResp, error) {
	return echoResp{N: r.N, Echo: "echo:" + r.Text}, nil
}

// requireRequest skips t where the backend declares no request/reply,
// after checking that it refuses it naming itself.
func requireRequest(t *testing.T, e *env) {
	t.Helper()
	if e.caps.Request.Path != adapters.RequestNone {
		return
	}
	_, err := request.OpenConfig(context.Background(), e.cfg)
	var he *herald.Error
	if err == nil || !errors.As(err, &he) || he.Backend == "" {
		t.Fatalf("request.OpenConfig on a backend declaring no request/reply: got %v; want a *herald.Error naming the backend", err)
	}
	t.Skip("the driver declares no Capabilities.Request.Path (refused: " + err.Error() + ")")
}

// testRequestReply: a request gets its responder's reply.
func testRequestReply(t *testing.T, e *env) {
	requireRequest(t, e)
	topic := e.topic("request")
	e.responder(topic, echo)
	c := e.client()
	got, err := request.Request[echoReq, echoResp](context.Background(), c, topic, echoReq{N: 7, Text: "hello"}, request.Timeout(e.wait()))
	if err != nil {
		t.Fatalf("Request: %v", err)
	}
	if got != (echoResp{N: 7, Echo: "echo:hello"}) {
		t.Fatalf("reply = %+v; want {7 echo:hello}", got)
	}
}

// testRequestConcurrent: concurrent requests of one client, answered by
// concurrent handlers in any order, each get their own reply.
func testRequestConcurrent(t *testing.T, e *env) {
	requireRequest(t, e)
	topic := e.topic("request-concurrent")
	var inFlight, most atomic.Int32
	e.responder(topic, func(ctx context.Context, r echoReq) (echoResp, error) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		// Replies leave out of request order: later requests sooner.
		time.Sleep(time.Duration(20-r.N%20) * time.Millisecond)
		return echo(ctx, r)
	}, subscriber.WithConcurrency(8))
	c := e.client()
	const n = 64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			text := fmt.Sprintf("r%d", i)
			got, err := request.Request[echoReq, echoResp](context.Background(), c, topic, echoReq{N: i, Text: text}, request.Timeout(e.wait()))
			switch {
			case err != nil:
				errs <- fmt.Errorf("request %d: %w", i, err)
			case got.N != i || got.Echo != "echo:"+text:
				errs <- fmt.Errorf("request %d got the reply %+v (another request's)", i, got)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if most.Load() < 2 {
		t.Errorf("at most %d request(s) were handled at once; want concurrent requests to be in flight together", most.Load())
	}
}

// testRequestTimeout: a responder slower than the request's timeout
// makes Request return ErrTimeout (and context.DeadlineExceeded) at the
// deadline, not before.
func testRequestTimeout(t *testing.T, e *env) {
	requireRequest(t, e)
	topic := e.topic("request-timeout")
	started := make(chan struct{}, 1)
	e.responder(topic, func(ctx context.Context, r echoReq) (echoResp, error) {
		started <- struct{}{}
		<-ctx.Done() // bounded by the request's deadline
		return echoResp{}, ctx.Err()
	})
	c := e.client()
	const timeout = 2 * time.Second
	begin := time.Now()
	_, err := request.Request[echoReq, echoResp](context.Background(), c, topic, echoReq{N: 1}, request.Timeout(timeout))
	took := time.Since(begin)
	if !errors.Is(err, request.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Request to a slow responder: %v; want ErrTimeout and context.DeadlineExceeded", err)
	}
	if took < timeout-50*time.Millisecond {
		t.Errorf("Request timed out after %v; want about %v", took, timeout)
	}
	select {
	case <-started:
	default:
		t.Errorf("the responder never got the request: the timeout proves nothing")
	}
}

// testRequestNoResponder: a request to a topic nobody subscribes to fails
// at once with ErrNoResponder where the driver declares FailFast, and
// times out otherwise.
func testRequestNoResponder(t *testing.T, e *env) {
	requireRequest(t, e)
	topic := e.topic("request-nobody")
	c := e.client()
	timeout := 3 * time.Second
	begin := time.Now()
	_, err := request.Request[echoReq, echoResp](context.Background(), c, topic, echoReq{N: 1}, request.Timeout(timeout))
	took := time.Since(begin)
	if e.caps.Request.FailFast {
		if !errors.Is(err, request.ErrNoResponder) {
			t.Fatalf("Request with no responder (FailFast declared): %v; want ErrNoResponder", err)
		}
		if took > timeout/2 {
			t.Errorf("ErrNoResponder came after %v; want it at once, well before the %v timeout", took, timeout)
		}
		return
	}
	if !errors.Is(err, request.ErrTimeout) {
		t.Fatalf("Request with no responder (FailFast not declared): %v; want ErrTimeout", err)
	}
}

// testRequestRemoteError: the responder's error reaches the requester as
// a *RemoteError with its message.
func testRequestRemoteError(t *testing.T, e *env) {
	requireRequest(t, e)
	topic := e.topic("request-error")
	e.responder(topic, func(_ context.Context, r echoReq) (echoResp, error) {
		return echoResp{}, fmt.Errorf("out of stock: %s", r.Text)
	})
	c := e.client()
	_, err := request.Request[echoReq, echoResp](context.Background(), c, topic, echoReq{Text: "A1"}, request.Timeout(e.wait()))
	var re *request.RemoteError
	if !errors.As(err, &re) || !errors.Is(err, request.ErrRemote) {
		t.Fatalf("Request to a failing responder: %v; want a *request.RemoteError", err)
	}
	if re.Message != "out of stock: A1" || re.Topic != topic {
		t.Errorf("RemoteError = %+v; want the responder's message %q on topic %q", re, "out of stock: A1", topic)
	}
}

// testRequestExpiredDropped: a request whose deadline passed before it
// arrived is dropped by the responder (its function never runs, nothing
// is replied), while a live one is answered.
func testRequestExpiredDropped(t *testing.T, e *env) {
	requireRequest(t, e)
	topic := e.topic("request-expired")
	var mu sync.Mutex
	var seen []string
	rc := e.responder(topic, func(ctx context.Context, r echoReq) (echoResp, error) {
		mu.Lock()
		seen = append(seen, r.Text)
		mu.Unlock()
		return echo(ctx, r)
	})
	// The expired request goes through the driver's requester, so that
	// its deadline header can be in the past.
	b := resolve(t, e.suite.Target)
	raw, err := b.driver.OpenRequester(context.Background(), b.cfg, adapters.Env{Logger: herald.DefaultLogger()})
	if err != nil {
		t.Fatalf("OpenRequester: %v", err)
	}
	t.Cleanup(func() { _ = raw.Close(context.Background()) })
	expired, err := herald.NewJSONMessage(echoReq{N: 1, Text: "expired"})
	if err != nil {
		t.Fatal(err)
	}
	expired.Metadata.Set(request.DeadlineHeader, time.Now().Add(-time.Second).UTC().Format(time.RFC3339Nano))
	ctx, cancel := context.WithTimeout(context.Background(), e.wait())
	defer cancel()
	answered := make(chan error, 1)
	go func() {
		_, err := raw.Request(ctx, topic, expired)
		answered <- err
	}()
	for rc.Dropped() == 0 {
		select {
		case err := <-answered:
			t.Fatalf("the expired request was answered (%v); want it dropped", err)
		case <-ctx.Done():
			t.Fatalf("the responder did not drop the expired request within %v (Dropped = 0)", e.wait())
		case <-time.After(10 * time.Millisecond):
		}
	}
	c := e.client()
	got, err := request.Request[echoReq, echoResp](context.Background(), c, topic, echoReq{N: 2, Text: "live"}, request.Timeout(e.wait()))
	if err != nil || got.Echo != "echo:live" {
		t.Fatalf("live Request: %+v, %v; want echo:live", got, err)
	}
	select {
	case err := <-answered:
		t.Fatalf("the expired request got a reply (%v); want none", err)
	default:
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || seen[0] != "live" {
		t.Errorf("the responder's function saw %q; want only the live request", seen)
	}
}
