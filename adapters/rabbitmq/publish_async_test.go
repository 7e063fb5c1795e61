package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// doneRecorder counts done calls per message and collects their errors.
type doneRecorder struct {
	mu    sync.Mutex
	calls map[string]int
	errs  map[string]error
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
		if len(r.calls) == r.want && r.calls[id] == 1 {
			close(r.all)
		}
	}
}

func (r *doneRecorder) wait(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-r.all:
	case <-time.After(d):
		r.mu.Lock()
		defer r.mu.Unlock()
		t.Fatalf("done called for %d of %d messages within %v", len(r.calls), r.want, d)
	}
}

// warmPool opens every pool channel of pub (and declares topic), one
// Publish each: a black-holed broker cannot open them later.
func warmPool(t *testing.T, pub message.Publisher, topic string) {
	t.Helper()
	for range pub.(*publisher).s.pool {
		if err := pub.Publish(topic, newMsg("warm")); err != nil {
			t.Fatal(err)
		}
	}
}

func asyncPub(t *testing.T, target string) (message.Publisher, adapters.AsyncPublisher) {
	pub := openPub(t, target)
	return pub, pub.(adapters.AsyncPublisher)
}

// TestPublishAsyncDoneOncePerMessage: with a window smaller than the
// batch, every message is taken, confirmed and delivered, and done is
// called exactly once for each.
func TestPublishAsyncDoneOncePerMessage(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "async", "")) })
	sub := openSub(t, withQuery(url, "group=async"))
	st := openStream(t, sub, t.Context(), topic, 256)
	_, ap := asyncPub(t, withQuery(url, "window=8"))
	const n = 300
	rec := newDoneRecorder(n)
	for i := range n {
		m := newMsg(fmt.Sprint(i))
		if err := ap.PublishAsync(t.Context(), topic, m, rec.done(m.UUID)); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		st.Ack(receiveN(t, st, 1, 20*time.Second)[0])
	}
	rec.wait(t, 20*time.Second)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for id, c := range rec.calls {
		if c != 1 || rec.errs[id] != nil {
			t.Errorf("message %s: done called %d times, last error %v; want once with nil", id, c, rec.errs[id])
		}
	}
}

// TestPublishAsyncBackPressure: with the broker black-holed the window
// fills; then PublishAsync waits until its ctx ends and does not take
// the message. Once the broker is back, the messages taken are sent
// again and confirmed.
func TestPublishAsyncBackPressure(t *testing.T) {
	target, proxy := viaProxy(t)
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "bp", "")) })
	sub := openSub(t, withQuery(url, "group=bp"))
	st := openStream(t, sub, t.Context(), topic, 16)
	pub, ap := asyncPub(t, withQuery(target, "window=4"))
	warmPool(t, pub, topic)
	for _, d := range receiveN(t, st, 2, 10*time.Second) {
		st.Ack(d)
	}

	proxy.Blackhole()
	rec := newDoneRecorder(4)
	for i := range 4 {
		m := newMsg(fmt.Sprint(i))
		if err := ap.PublishAsync(t.Context(), topic, m, rec.done(m.UUID)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	extra := newMsg("extra")
	err := ap.PublishAsync(ctx, topic, extra, func(error) { t.Error("done called for a message not taken") })
	if !errors.Is(err, herald.ErrUnreachable) || !errors.Is(err, context.DeadlineExceeded) ||
		!strings.HasPrefix(err.Error(), `herald/amqp: publish to "`+topic+`": `) {
		t.Errorf("PublishAsync with the window full: %v; want herald/amqp: publish to ... wrapping ErrUnreachable and DeadlineExceeded", err)
	}
	proxy.Up() // closes the black-holed connection: the four are sent again
	rec.wait(t, 30*time.Second)
	for id, err := range rec.errs {
		if err != nil {
			t.Errorf("message %s: %v", id, err)
		}
	}
	got := receiveN(t, st, 4, 10*time.Second)
	for _, d := range got {
		st.Ack(d)
	}
	if p := payloads(got); strings.Join(p, ",") != "0,1,2,3" {
		t.Errorf("received %v; want 0..3", p)
	}
}

// TestPublishAsyncNackedByBroker: a message the broker refuses (a queue
// at its length limit with overflow=reject-publish) fails alone through
// its done; the others succeed.
func TestPublishAsyncNackedByBroker(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	queue := topic + ".limited"
	t.Cleanup(func() { deleteTopology(t, topic, queue) })
	raw := rawChannel(t)
	if err := raw.ExchangeDeclare(topic, exchangeType, true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.QueueDeclare(queue, false, false, false, false, amqp.Table{"x-max-length": int32(1), "x-overflow": "reject-publish"}); err != nil {
		t.Fatal(err)
	}
	if err := raw.QueueBind(queue, "", topic, false, nil); err != nil {
		t.Fatal(err)
	}
	_, ap := asyncPub(t, url)
	rec := newDoneRecorder(3)
	var ids []string
	for i := range 3 {
		m := newMsg(fmt.Sprint(i))
		ids = append(ids, m.UUID)
		if err := ap.PublishAsync(t.Context(), topic, m, rec.done(m.UUID)); err != nil {
			t.Fatal(err)
		}
	}
	rec.wait(t, 10*time.Second)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.errs[ids[0]] != nil {
		t.Errorf("first message: %v; want nil", rec.errs[ids[0]])
	}
	for _, id := range ids[1:] {
		err := rec.errs[id]
		if err == nil || !strings.Contains(err.Error(), "refused message "+id) || !strings.HasPrefix(err.Error(), `herald/amqp: publish to "`+topic+`"`) {
			t.Errorf("message %s: %v; want the broker's refusal of that message", id, err)
		}
	}
}

// TestPublishAsyncClose: PublishAsync after Close returns ErrClosed; a
// message taken before Close whose confirm cannot come gets ErrClosed
// through done when Close gives up waiting.
func TestPublishAsyncClose(t *testing.T) {
	target, proxy := viaProxy(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic) })
	pub, ap := asyncPub(t, target)
	warmPool(t, pub, topic)
	proxy.Blackhole()
	errc := make(chan error, 2)
	if err := ap.PublishAsync(t.Context(), topic, newMsg("x"), func(err error) { errc <- err }); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := pub.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > closeWait+3*time.Second {
		t.Errorf("Close took %v", d)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, herald.ErrClosed) {
			t.Errorf("done: %v; want herald.ErrClosed", err)
		}
	default:
		t.Error("done not called by the time Close returned")
	}
	err := ap.PublishAsync(t.Context(), topic, newMsg("y"), func(error) { t.Error("done called after Close") })
	if !errors.Is(err, herald.ErrClosed) || !strings.HasPrefix(err.Error(), `herald/amqp: publish to "`+topic+`"`) {
		t.Errorf("PublishAsync after Close: %v; want herald/amqp: publish to ... wrapping ErrClosed", err)
	}
}

// TestPublishContextPipelines: concurrent PublishContext callers do not
// wait for each other's confirms: with the broker black-holed (no
// confirm comes), all of their messages are sent.
func TestPublishContextPipelines(t *testing.T) {
	target, proxy := viaProxy(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic) })
	pub := openPub(t, target)
	warmPool(t, pub, topic)
	p := pub.(*publisher)
	sent := func() uint64 {
		var n uint64
		for _, pc := range p.channels {
			pc.sem <- struct{}{}
			if pc.oc != nil {
				n += pc.oc.ch.GetNextPublishSeqNo() - 1
			}
			<-pc.sem
		}
		return n
	}
	before := sent()
	proxy.Blackhole()
	const callers = 16
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = p.PublishContext(ctx, topic, newMsg(fmt.Sprint(i)))
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for sent()-before < callers {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d concurrent publishes sent while none was confirmed", sent()-before, callers)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	wg.Wait()
}

// TestPublishAsyncRefusesInvalidAtOnce: a message the broker would
// refuse by closing the connection (a header name over 255 bytes) is
// refused before sending, without taking it.
func TestPublishAsyncRefusesInvalidAtOnce(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic) })
	_, ap := asyncPub(t, url)
	m := newMsg("x")
	m.Metadata.Set(strings.Repeat("k", 300), "v")
	err := ap.PublishAsync(t.Context(), topic, m, func(error) { t.Error("done called for a refused message") })
	if err == nil || !strings.Contains(err.Error(), "header name") || !strings.HasPrefix(err.Error(), `herald/amqp: publish to "`+topic+`"`) {
		t.Errorf("PublishAsync: %v; want the header name refused", err)
	}
	ok := make(chan error, 1)
	if err := ap.PublishAsync(t.Context(), topic, newMsg("fine"), func(err error) { ok <- err }); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-ok:
		if err != nil {
			t.Errorf("the next message: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no confirm for the next message")
	}
}
