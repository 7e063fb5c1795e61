package rabbitmq

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/adaptertest"
)

// viaProxy returns the test broker's URL rewritten to go through a new
// adaptertest.Proxy, and the proxy.
func viaProxy(t *testing.T) (string, *adaptertest.Proxy) {
	t.Helper()
	u, err := url.Parse(brokerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	p := adaptertest.NewProxy(t, u.Host)
	u.Host = p.Addr()
	return u.String(), p
}

// waitWaiting waits until a call is blocked waiting for p's connection.
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

// silentListener accepts connections and never answers.
func silentListener(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

// TestOpenHonoursCtx: opening against a listener that accepts and never
// answers returns when ctx ends, not after dial_timeout.
func TestOpenHonoursCtx(t *testing.T) {
	target := "amqp://guest:guest@" + silentListener(t) + "/"
	for name, open := range map[string]func(context.Context) (any, error){
		"publisher":  func(ctx context.Context) (any, error) { return adapters.OpenPublisher(ctx, target) },
		"subscriber": func(ctx context.Context) (any, error) { return adapters.OpenSubscriber(ctx, target) },
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := open(ctx)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("returned after %v, want soon after the 300ms ctx", d)
			}
			if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, herald.ErrUnreachable) {
				t.Errorf("error %v; want one wrapping context.DeadlineExceeded and herald.ErrUnreachable", err)
			}
		})
	}
}

// TestSubscribeHonoursCtxAndClose: with the broker black-holed, Subscribe
// returns when its ctx ends, and Close interrupts a Subscribe without a
// deadline.
func TestSubscribeHonoursCtxAndClose(t *testing.T) {
	target, proxy := viaProxy(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "bh", "")) })
	sub, err := adapters.OpenSubscriber(t.Context(), withQuery(target, "group=bh"))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	proxy.Blackhole()

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = sub.Subscribe(ctx, topic)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Subscribe returned after %v, want soon after its 300ms ctx", d)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), `herald/amqp: subscribe to "`+topic+`"`) {
		t.Errorf("Subscribe: %v; want a herald/amqp error naming the topic and wrapping the ctx error", err)
	}

	errc := make(chan error, 1)
	go func() {
		_, err := sub.Subscribe(context.Background(), topic)
		errc <- err
	}()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		s := sub.(*subscriber)
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			s.mu.Lock()
			n := s.waiting
			s.mu.Unlock()
			if n > 0 {
				break // Subscribe waits for the broker
			}
		}
		_ = sub.Close()
	}()
	select {
	case err := <-errc:
		if !errors.Is(err, herald.ErrClosed) {
			t.Errorf("Subscribe interrupted by Close: %v; want herald.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not interrupt Subscribe within 5s")
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return within 5s of a black hole")
	}
}

// TestPublishWaitsForReconnect: a publish made while the broker is
// unreachable waits and succeeds once the connection is back.
func TestPublishWaitsForReconnect(t *testing.T) {
	target, proxy := viaProxy(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "wait", "")) })
	sub := openSub(t, withQuery(brokerURL(t), "group=wait"))
	ch, err := sub.Subscribe(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	pub := openPub(t, target)
	if err := pub.Publish(topic, newMsg("before")); err != nil {
		t.Fatal(err)
	}
	receive(t, ch, 10*time.Second).Ack()

	proxy.Down()
	waitDown(t, pub.(*publisher).conn)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	m := newMsg("while down")
	errc := make(chan error, 1)
	go func() { errc <- pub.(adapters.ContextPublisher).PublishContext(ctx, topic, m) }()
	waitWaiting(t, pub.(*publisher).conn)
	proxy.Up()
	if err := <-errc; err != nil {
		t.Fatalf("publish across the outage: %v", err)
	}
	got := receive(t, ch, 10*time.Second)
	got.Ack()
	if got.UUID != m.UUID {
		t.Errorf("got %s, want %s", got.UUID, m.UUID)
	}
}

// TestPublishUnreachableUntilDeadline: while the broker stays down a
// publish waits until its ctx ends, then says the broker is unreachable.
func TestPublishUnreachableUntilDeadline(t *testing.T) {
	target, proxy := viaProxy(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic) })
	pub := openPub(t, target)
	proxy.Down()
	waitDown(t, pub.(*publisher).conn)
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := pub.(adapters.ContextPublisher).PublishContext(ctx, topic, newMsg("x"))
	d := time.Since(start)
	if d < 450*time.Millisecond || d > 3*time.Second {
		t.Errorf("returned after %v, want at the 500ms deadline", d)
	}
	if !errors.Is(err, herald.ErrUnreachable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v; want herald.ErrUnreachable and context.DeadlineExceeded", err)
	}
	if err == nil || !strings.HasPrefix(err.Error(), `herald/amqp: publish to "`+topic+`": `) {
		t.Errorf("error %q does not start with herald/amqp: publish to %q", err, topic)
	}
}

// TestPublishContextWaitsForConfirmWithinCtx: with the broker
// black-holed, PublishContext returns when its ctx ends, and the
// caller's message is left as it was.
func TestPublishContextWaitsForConfirmWithinCtx(t *testing.T) {
	target, proxy := viaProxy(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic) })
	pub := openPub(t, target)
	if err := pub.Publish(topic, newMsg("declare")); err != nil {
		t.Fatal(err)
	}
	proxy.Blackhole()
	m := newMsg("x")
	mctx := m.Context()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := pub.(adapters.ContextPublisher).PublishContext(ctx, topic, m)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("returned after %v, want soon after its 300ms ctx", d)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, herald.ErrUnreachable) {
		t.Errorf("error %v; want context.DeadlineExceeded and herald.ErrUnreachable", err)
	}
	if m.Context() != mctx {
		t.Error("PublishContext changed the message's context")
	}
}

// TestClosedErrorsNameTopic: every method after Close returns an error
// wrapping herald.ErrClosed that names the backend and the topic.
func TestClosedErrorsNameTopic(t *testing.T) {
	url := brokerURL(t)
	pub, sub := openPub(t, url), openSub(t, url)
	_ = pub.Close()
	_ = sub.Close()
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, herald.ErrClosed) || !strings.HasPrefix(err.Error(), `herald/amqp: `+op+` "t1": `) {
			t.Errorf("%s after Close: %v; want herald/amqp: %s \"t1\": ... wrapping herald.ErrClosed", op, err, op)
		}
	}
	check("publish to", pub.Publish("t1", newMsg("x")))
	check("publish to", pub.(adapters.ContextPublisher).PublishContext(t.Context(), "t1", newMsg("x")))
	_, err := sub.Subscribe(t.Context(), "t1")
	check("subscribe to", err)
	check("initialize", sub.(message.SubscribeInitializer).SubscribeInitialize("t1"))
	var conn *amqp.Connection
	if pub.(interface{ As(any) bool }).As(&conn) || sub.(interface{ As(any) bool }).As(&conn) {
		t.Error("As(**amqp091.Connection) = true after Close")
	}
}

// TestPublishSameMessageConcurrently: publishing one message from two
// goroutines at once is safe (-race): PublishContext only reads it.
func TestPublishSameMessageConcurrently(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic) })
	pub := openPub(t, url).(adapters.ContextPublisher)
	m := newMsg("twice")
	m.Metadata.Set("k", "v")
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			errs <- pub.PublishContext(ctx, topic, m)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
