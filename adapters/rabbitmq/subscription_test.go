package rabbitmq

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// consumers returns how many consumers the broker has for queue, asking
// on the subscription's own connection (private queues are exclusive to
// it).
func consumers(t *testing.T, sub adapters.Subscription, queue string) int {
	t.Helper()
	var conn *amqp.Connection
	if !sub.As(&conn) {
		t.Fatal("As(**amqp091.Connection) failed")
	}
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	q, err := ch.QueueDeclarePassive(queue, false, false, false, false, nil)
	if err != nil {
		t.Fatalf("inspect queue %q: %v", queue, err)
	}
	return q.Consumers
}

// TestOpenRegistersConsumer: when Open returns, the broker already
// counts the consumer, with and without a group; streams of one topic on
// one subscription consume one queue.
func TestOpenRegistersConsumer(t *testing.T) {
	url := brokerURL(t)
	for _, group := range []string{"", "reg"} {
		t.Run("group="+group, func(t *testing.T) {
			topic := freshTopic(t)
			target := url
			if group != "" {
				target = withQuery(url, "group="+group)
			}
			sub := openSubT(t, target)
			queue := sub.queue(topic).name
			if group != "" {
				t.Cleanup(func() { deleteTopology(t, topic, queue) })
			}
			for i := 1; i <= 3; i++ {
				openStreamT(t, sub, topic, 4, nil)
				if n := consumers(t, sub, queue); n != i {
					t.Fatalf("after Open #%d the queue has %d consumers", i, n)
				}
			}
		})
	}
}

// TestPrivateStreamsCompete: streams of one subscription without a group
// share its private queue: each message reaches one of them; another
// subscription gets its own copy.
func TestPrivateStreamsCompete(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic) })
	subA, subB := openSubT(t, url), openSubT(t, url)
	a1, a2 := openStreamT(t, subA, topic, 1, nil), openStreamT(t, subA, topic, 1, nil)
	b := openStreamT(t, subB, topic, 64, nil)
	const n = 40
	publishN(t, openTopicT(t, url), topic, n)
	var mu sync.Mutex
	seen := map[string]int{}
	per := map[*stream]int{}
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for _, st := range []*stream{a1, a2} {
		wg.Go(func() {
			buf := make([]adapters.Received, 1)
			for ctx.Err() == nil {
				if _, err := st.Receive(ctx, buf); err != nil {
					return
				}
				mu.Lock()
				seen[string(buf[0].Msg.Payload)]++
				per[st]++
				done := len(seen) == n
				mu.Unlock()
				st.Ack(buf[0].Token)
				if done {
					cancel()
				}
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("A's streams got %d distinct messages, want %d", len(seen), n)
	}
	for p, c := range seen {
		if c != 1 {
			t.Errorf("message %s reached A %d times", p, c)
		}
	}
	if per[a1] == 0 || per[a2] == 0 {
		t.Errorf("one of A's streams got nothing: %d and %d", per[a1], per[a2])
	}
	for _, r := range receiveN(t, b, n, 10*time.Second) {
		b.Ack(r.Token)
	}
}

// TestPrepareKeepsEarlyMessages: a group queue prepared ahead keeps
// messages published before the group's first Open; without a group
// Prepare does nothing.
func TestPrepareKeepsEarlyMessages(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "init", "")) })
	sub := openSubT(t, withQuery(url, "group=init"))
	if err := sub.Prepare(t.Context(), topic); err != nil {
		t.Fatal(err)
	}
	if err := openSubT(t, url).Prepare(t.Context(), topic); err != nil {
		t.Fatalf("Prepare without a group: %v", err)
	}
	m := newMsg("early")
	if err := sendWait(t, openTopicT(t, url), t.Context(), topic, m); err != nil {
		t.Fatal(err)
	}
	st := openStreamT(t, sub, topic, 8, nil)
	r := receiveN(t, st, 1, 10*time.Second)[0]
	st.Ack(r.Token)
	if r.Msg.UUID != m.UUID {
		t.Errorf("got %s, want %s", r.Msg.UUID, m.UUID)
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
// answers returns when ctx ends, not after dial_timeout, as
// KindUnreachable.
func TestOpenHonoursCtx(t *testing.T) {
	cfg := mustConfig(t, "amqp://guest:guest@"+silentListener(t)+"/")
	for name, open := range map[string]func(context.Context) (any, error){
		"topic":        func(ctx context.Context) (any, error) { return Driver{}.OpenTopic(ctx, cfg, adapters.Env{}) },
		"subscription": func(ctx context.Context) (any, error) { return Driver{}.OpenSubscription(ctx, cfg, adapters.Env{}) },
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := open(ctx)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("returned after %v, want soon after the 300ms ctx", d)
			}
			kindIs(t, "open", err, herald.KindUnreachable)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %v; want one wrapping context.DeadlineExceeded", err)
			}
		})
	}
}

// TestOpenHonoursCtxAndClose: with the broker black-holed, Open returns
// when its ctx ends, and Close interrupts an Open without a deadline.
func TestOpenHonoursCtxAndClose(t *testing.T) {
	target, proxy := viaProxy(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "bh", "")) })
	sub := openSubT(t, withQuery(target, "group=bh"))
	proxy.Blackhole()
	o := adapters.StreamOptions{Window: 8, Status: func(error) {}}

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := sub.Open(ctx, topic, o)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Open returned after %v, want soon after its 300ms ctx", d)
	}
	kindIs(t, "Open black-holed", err, herald.KindUnreachable)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), `herald/amqp: subscribe to "`+topic+`"`) {
		t.Errorf("Open: %v; want a herald/amqp error naming the topic and wrapping the ctx error", err)
	}

	errc := make(chan error, 1)
	go func() {
		_, err := sub.Open(context.Background(), topic, o)
		errc <- err
	}()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		sub.mu.Lock()
		n := sub.waiting
		sub.mu.Unlock()
		if n > 0 {
			break // Open waits for the broker
		}
	}
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = sub.Close(ctx)
	}()
	select {
	case err := <-errc:
		kindIs(t, "Open interrupted by Close", err, herald.KindClosed)
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not interrupt Open within 5s")
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return within 5s of a black hole")
	}
}

// TestAs: the escape hatch reaches the amqp091 connection of a Topic and
// a Subscription, never dials, and is false after Close.
func TestAs(t *testing.T) {
	url := brokerURL(t)
	tp := openTopicT(t, url)
	sub := openSubT(t, url)
	for name, x := range map[string]interface{ As(any) bool }{"topic": tp, "subscription": sub} {
		var conn *amqp.Connection
		if !x.As(&conn) || conn == nil || conn.IsClosed() {
			t.Errorf("%s: As(**amqp091.Connection)", name)
		}
		var other *string
		if x.As(&other) {
			t.Errorf("%s: As(**string) = true", name)
		}
	}
	_ = tp.Close(t.Context())
	_ = sub.Close(t.Context())
	var conn *amqp.Connection
	if tp.As(&conn) || sub.As(&conn) {
		t.Error("As(**amqp091.Connection) = true after Close")
	}
}
