package rabbitmq

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/request"
	"github.com/heraldkit/herald/subscriber"
)

// serveDouble subscribes a Herald responder that doubles an int on topic
// and waits until it is ready.
func serveDouble(t *testing.T, target, topic string) {
	t.Helper()
	ctx := context.Background()
	rc, err := request.Open(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rc.Close() })
	ready := make(chan string, 1)
	sub, err := subscriber.Open(ctx, target, subscriber.WithGroup("doubler"), subscriber.WithReady(func(s string) { ready <- s }))
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- sub.Subscribe(sctx, topic, request.Responder(rc, func(_ context.Context, n int) (int, error) { return 2 * n, nil }))
	}()
	t.Cleanup(func() { cancel(); <-done; _ = sub.Close() })
	select {
	case <-ready:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(30 * time.Second):
		t.Fatal("responder not ready")
	}
}

// TestRequestInteropPlainAMQP: a plain AMQP RPC client (its own
// exclusive reply queue, reply_to and correlation_id) is answered by a
// Herald responder: the delivery's reply_to and correlation_id reach the
// handler as herald-reply-to and herald-correlation-id, and the reply
// carries the correlation_id back.
func TestRequestInteropPlainAMQP(t *testing.T) {
	target := brokerURL(t)
	topic := freshTopic(t)
	serveDouble(t, target, topic)
	conn, err := amqp.Dial(target)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	replies, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := ch.PublishWithContext(ctx, topic, "", false, false, amqp.Publishing{ReplyTo: q.Name, CorrelationId: "plain-1", Body: []byte("21")}); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-replies:
		var got int
		if err := json.Unmarshal(d.Body, &got); err != nil || got != 42 || d.CorrelationId != "plain-1" {
			t.Fatalf("reply %q (correlation %q, %v); want 42 with correlation plain-1", d.Body, d.CorrelationId, err)
		}
	case <-ctx.Done():
		t.Fatal("no reply within 30s")
	}
}

// TestRequestDirectReplyTo: a Herald request is answered through Direct
// Reply-to: the responder's handler sees the broker's rewritten reply_to
// (amq.rabbitmq.reply-to.…) as herald-reply-to.
func TestRequestDirectReplyTo(t *testing.T) {
	target := brokerURL(t)
	topic := freshTopic(t)
	ctx := context.Background()
	rc, err := request.Open(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	seen := make(chan string, 1)
	ready := make(chan string, 1)
	sub, err := subscriber.Open(ctx, target, subscriber.WithGroup("seer"), subscriber.WithReady(func(s string) { ready <- s }))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	responder := request.Responder(rc, func(_ context.Context, n int) (int, error) { return n, nil })
	go sub.Subscribe(sctx, topic, func(ctx context.Context, m *herald.Message) error {
		select {
		case seen <- m.Metadata.Get("herald-reply-to"):
		default:
		}
		return responder(ctx, m)
	})
	<-ready
	c, err := request.Open(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, err := request.Request[int, int](ctx, c, topic, 5, request.Timeout(30*time.Second))
	if err != nil || got != 5 {
		t.Fatalf("Request: %d, %v; want 5", got, err)
	}
	if to := <-seen; !strings.HasPrefix(to, directReplyTo+".") {
		t.Fatalf("the responder saw herald-reply-to %q; want the broker's %s.<token>", to, directReplyTo)
	}
}

// TestRequestChannelLost: when the requester's connection drops, a
// request waiting for its reply fails at once with KindUnreachable (its
// reply can no longer reach it), not at its deadline; the next request
// opens a Direct Reply-to channel on the redialled connection and gets
// its reply.
func TestRequestChannelLost(t *testing.T) {
	target := brokerURL(t)
	proxied, p := viaProxy(t)
	topic := freshTopic(t)
	ctx := context.Background()
	rc, err := request.Open(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	started := make(chan int, 4)
	hold := make(chan struct{})
	ready := make(chan string, 1)
	sub, err := subscriber.Open(ctx, target, subscriber.WithGroup("holder"), subscriber.WithConcurrency(4), subscriber.WithReady(func(s string) { ready <- s }))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go sub.Subscribe(sctx, topic, request.Responder(rc, func(ctx context.Context, n int) (int, error) {
		started <- n
		if n == 1 {
			select {
			case <-hold:
			case <-ctx.Done():
			}
		}
		return n, nil
	}))
	<-ready

	r, err := Driver{}.OpenRequester(ctx, mustConfig(t, proxied), adapters.Env{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	m1, _ := herald.NewJSONMessage(1)
	failed := make(chan error, 1)
	go func() {
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		_, err := r.Request(rctx, topic, m1)
		failed <- err
	}()
	if n := <-started; n != 1 {
		t.Fatalf("responder got %d; want 1", n)
	}
	begin := time.Now()
	p.Reset()
	select {
	case err := <-failed:
		kindIs(t, "request waiting when the connection dropped", err, herald.KindUnreachable)
		if d := time.Since(begin); d > 10*time.Second {
			t.Errorf("failed %v after the drop; want at once", d)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the waiting request did not fail within 30s of the connection drop")
	}
	close(hold) // its reply goes to an address gone

	m2, _ := herald.NewJSONMessage(2)
	rctx, cancel2 := context.WithTimeout(ctx, 30*time.Second)
	defer cancel2()
	rep, err := r.Request(rctx, topic, m2)
	if err != nil {
		t.Fatalf("request after the reconnect: %v", err)
	}
	if string(rep.Payload) != "2" {
		t.Fatalf("reply %q; want 2", rep.Payload)
	}
}
