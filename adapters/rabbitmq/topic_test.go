package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// TestSendDoneOncePerMessage: every message sent is confirmed and
// delivered, and done is called exactly once for each, in send order.
func TestSendDoneOncePerMessage(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "once", "")) })
	st := openStreamT(t, openSubT(t, withQuery(url, "group=once")), topic, 256, nil)
	tp := openTopicT(t, withQuery(url, "pool=1"))
	const n = 500
	rec := newDoneRecorder(n)
	var ids []string
	for i := range n {
		m := newMsg(fmt.Sprint(i))
		ids = append(ids, m.UUID)
		if err := tp.Send(t.Context(), topic, m, adapters.SendOptions{}, rec.done(m.UUID)); err != nil {
			t.Fatal(err)
		}
	}
	receiveAcked(t, st, n, 30*time.Second)
	rec.wait(t, 30*time.Second)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for id, c := range rec.calls {
		if c != 1 || rec.errs[id] != nil {
			t.Errorf("message %s: done called %d times, last error %v; want once with nil", id, c, rec.errs[id])
		}
	}
	if strings.Join(rec.order, ",") != strings.Join(ids, ",") {
		t.Error("done was not called in send order on one channel")
	}
}

// TestSendKeepsOrderPerKey (issue 14, item 7): messages of one key sent
// one after the other (each Send returns before the next, their confirms
// still outstanding, with other keys sent concurrently) reach the broker,
// and so the one consumer of the queue, in send order, with a pool of
// several channels. Before, PublishAsync round-robined over the pool:
// one caller's messages were reordered.
func TestSendKeepsOrderPerKey(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "order", "")) })
	st := openStreamT(t, openSubT(t, withQuery(url, "group=order")), topic, 1024, nil)
	tp := openTopicT(t, withQuery(url, "pool=4"))
	const keys, perKey = 4, 1000
	rec := newDoneRecorder(keys * perKey)
	var wg sync.WaitGroup
	for k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perKey {
				m := newMsg(strconv.Itoa(i))
				if k > 0 { // key "" (none) is one of them
					herald.SetKey(m, "key-"+strconv.Itoa(k))
				}
				if err := tp.Send(t.Context(), topic, m, adapters.SendOptions{}, rec.done(m.UUID)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	next := map[string]int{}
	for _, r := range receiveAcked(t, st, keys*perKey, 60*time.Second) {
		i, _ := strconv.Atoi(string(r.Msg.Payload))
		if i != next[r.Key] {
			t.Fatalf("key %q: received %d, want %d (order lost)", r.Key, i, next[r.Key])
		}
		next[r.Key]++
	}
	rec.wait(t, 30*time.Second)
	if err := rec.firstErr(); err != nil {
		t.Fatal(err)
	}
}

// TestSendOutcomeUnknown (issue 14, item 12): a message written to the
// broker whose confirm does not come within its deadline is reported
// KindOutcomeUnknown, never KindUnreachable ("not stored"), both while
// the connection stays up and when it dies and does not come back in
// time; the broker did store both.
func TestSendOutcomeUnknown(t *testing.T) {
	target, proxy := viaReplyDropper(t)
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "maybe", "")) })
	st := openStreamT(t, openSubT(t, withQuery(url, "group=maybe")), topic, 16, nil)
	tp := openTopicT(t, withQuery(target, "pool=1"))
	if err := sendWait(t, tp, t.Context(), topic, newMsg("declare")); err != nil {
		t.Fatal(err)
	}
	st.Ack(receiveN(t, st, 1, 10*time.Second)[0].Token)

	proxy.DropReplies(true)
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := sendWait(t, tp, ctx, topic, newMsg("deadline"))
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("done after %v; want soon after the 500ms deadline", d)
	}
	kindIs(t, "confirm not within the deadline", err, herald.KindOutcomeUnknown)
	if errors.Is(err, herald.ErrUnreachable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("done: %v; want an unknown outcome wrapping the deadline, not unreachable", err)
	}

	errc := make(chan error, 1)
	kctx, kcancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer kcancel()
	if err := tp.Send(kctx, topic, newMsg("killed"), adapters.SendOptions{}, func(err error) { errc <- err }); err != nil {
		t.Fatal(err)
	}
	// The message reaches the broker before the connection dies; the
	// connection cannot come back (every reply is dropped) before the
	// deadline.
	got := receiveN(t, st, 2, 10*time.Second)
	proxy.Kill()
	select {
	case err := <-errc:
		kindIs(t, "confirm lost with the connection", err, herald.KindOutcomeUnknown)
		if errors.Is(err, herald.ErrUnreachable) {
			t.Errorf("done: %v; want an unknown outcome, not unreachable", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("done not called after the connection died")
	}
	proxy.DropReplies(false)
	for _, r := range got {
		st.Ack(r.Token)
	}
	if p := payloads(got, true); strings.Join(p, ",") != "deadline,killed" {
		t.Errorf("the broker holds %v; want both messages whose outcome was unknown", p)
	}
}

// TestSendRewrittenAfterConnectionLoss: a message written whose
// connection dies before its confirm is written again once the
// connection is back, within its deadline: the application does not see
// the outage (a cluster node killed, TestRabbitMQClusterFailover), and
// the broker has it at least once.
func TestSendRewrittenAfterConnectionLoss(t *testing.T) {
	target, proxy := viaReplyDropper(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "again", "")) })
	st := openStreamT(t, openSubT(t, withQuery(brokerURL(t), "group=again")), topic, 16, nil)
	tp := openTopicT(t, withQuery(target, "pool=1"))
	if err := sendWait(t, tp, t.Context(), topic, newMsg("declare")); err != nil {
		t.Fatal(err)
	}
	st.Ack(receiveN(t, st, 1, 10*time.Second)[0].Token)

	proxy.DropReplies(true)
	errc := make(chan error, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := tp.Send(ctx, topic, newMsg("cut"), adapters.SendOptions{}, func(err error) { errc <- err }); err != nil {
		t.Fatal(err)
	}
	first := receiveN(t, st, 1, 10*time.Second)[0] // stored; its confirm dropped
	st.Ack(first.Token)
	proxy.Kill()
	proxy.DropReplies(false)
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("done: %v; want nil: written again on the new connection and confirmed", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("done not called after the connection came back")
	}
	again := receiveN(t, st, 1, 10*time.Second)[0]
	st.Ack(again.Token)
	if string(first.Msg.Payload) != "cut" || string(again.Msg.Payload) != "cut" || again.Msg.UUID != first.Msg.UUID {
		t.Errorf("the broker holds %q then %q; want the message and its second copy (same ID)", first.Msg.Payload, again.Msg.Payload)
	}
}

// TestSendUnreachableUntilDeadline: while the broker stays down Send
// waits until its ctx ends, then returns KindUnreachable without taking
// the message.
func TestSendUnreachableUntilDeadline(t *testing.T) {
	target, proxy := viaProxy(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic) })
	tp := openTopicT(t, target)
	proxy.Down()
	waitDown(t, tp.conn)
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := tp.Send(ctx, topic, newMsg("x"), adapters.SendOptions{}, func(error) { t.Error("done called for a message not taken") })
	if d := time.Since(start); d < 450*time.Millisecond || d > 3*time.Second {
		t.Errorf("returned after %v, want at the 500ms deadline", d)
	}
	kindIs(t, "Send while down", err, herald.KindUnreachable)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(fmt.Sprint(err), `herald/amqp: publish to "`+topic+`": `) {
		t.Errorf("error %v; want herald/amqp: publish to %q wrapping the deadline", err, topic)
	}
}

// TestSendWaitsForReconnect: a message sent while the broker is
// unreachable waits and is confirmed once the connection is back.
func TestSendWaitsForReconnect(t *testing.T) {
	target, proxy := viaProxy(t)
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "wait", "")) })
	st := openStreamT(t, openSubT(t, withQuery(url, "group=wait")), topic, 8, nil)
	tp := openTopicT(t, target)
	if err := sendWait(t, tp, t.Context(), topic, newMsg("before")); err != nil {
		t.Fatal(err)
	}
	st.Ack(receiveN(t, st, 1, 10*time.Second)[0].Token)

	proxy.Down()
	waitDown(t, tp.conn)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	m := newMsg("while down")
	errc := make(chan error, 1)
	go func() { errc <- sendWait(t, tp, ctx, topic, m) }()
	waitWaiting(t, tp.conn)
	proxy.Up()
	if err := <-errc; err != nil {
		t.Fatalf("send across the outage: %v", err)
	}
	r := receiveN(t, st, 1, 10*time.Second)[0]
	st.Ack(r.Token)
	if r.Msg.UUID != m.UUID {
		t.Errorf("got %s, want %s", r.Msg.UUID, m.UUID)
	}
}

// TestSendBlackholedWithinCtx: with the broker black-holed, a message is
// written but no confirm comes: done reports an unknown outcome soon
// after the ctx ends; the caller's message is left as it was.
func TestSendBlackholedWithinCtx(t *testing.T) {
	target, proxy := viaProxy(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic) })
	tp := openTopicT(t, withQuery(target, "pool=1"))
	if err := sendWait(t, tp, t.Context(), topic, newMsg("declare")); err != nil {
		t.Fatal(err)
	}
	proxy.Blackhole()
	m := newMsg("x")
	mctx := m.Context()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := sendWait(t, tp, ctx, topic, m)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("done after %v, want soon after its 300ms ctx", d)
	}
	kindIs(t, "black-holed", err, herald.KindOutcomeUnknown)
	if m.Context() != mctx {
		t.Error("Send changed the message's context")
	}
}

// TestTopicClose: Close fails what it did not get a confirm for within
// its ctx with KindClosed, each done called by the time it returns; Send
// after Close returns KindClosed without calling done; Close is
// idempotent.
func TestTopicClose(t *testing.T) {
	target, proxy := viaProxy(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic) })
	tp := openTopicT(t, target)
	if err := sendWait(t, tp, t.Context(), topic, newMsg("declare")); err != nil {
		t.Fatal(err)
	}
	proxy.Blackhole()
	errc := make(chan error, 1)
	if err := tp.Send(t.Context(), topic, newMsg("x"), adapters.SendOptions{}, func(err error) { errc <- err }); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := tp.Close(ctx)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Close took %v", d)
	}
	if err == nil || !errors.Is(err, herald.ErrClosed) {
		t.Errorf("Close: %v; want it to say a message was failed with ErrClosed", err)
	}
	select {
	case err := <-errc:
		kindIs(t, "done of a message Close gave up on", err, herald.KindClosed)
	default:
		t.Error("done not called by the time Close returned")
	}
	err = tp.Send(t.Context(), topic, newMsg("y"), adapters.SendOptions{}, func(error) { t.Error("done called after Close") })
	kindIs(t, "Send after Close", err, herald.KindClosed)
	if !strings.HasPrefix(fmt.Sprint(err), `herald/amqp: publish to "`+topic+`"`) {
		t.Errorf("Send after Close: %v; want herald/amqp: publish to %q", err, topic)
	}
	_ = tp.Close(t.Context())
	var conn any
	if tp.As(&conn) {
		t.Error("As(*any) = true")
	}
}

// TestSendRefusesInvalidAtOnce: names RabbitMQ cannot use and a message
// the broker would answer by closing the connection are refused before
// anything is sent (KindInvalid), and the next message goes out.
func TestSendRefusesInvalidAtOnce(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic) })
	tp := openTopicT(t, url)
	for _, name := range []string{"", "amq.x", strings.Repeat("t", 300)} {
		err := tp.Send(t.Context(), name, newMsg("x"), adapters.SendOptions{}, func(error) { t.Error("done called for a refused message") })
		kindIs(t, "topic "+name, err, herald.KindInvalid)
	}
	m := newMsg("x")
	m.UUID = strings.Repeat("i", 300)
	kindIs(t, "a 300-byte ID", tp.Send(t.Context(), topic, m, adapters.SendOptions{}, func(error) { t.Error("done called for a refused message") }), herald.KindInvalid)
	if err := sendWait(t, tp, t.Context(), topic, newMsg("fine")); err != nil {
		t.Fatalf("the next message: %v", err)
	}
}

// TestSendSameMessageConcurrently: sending one message from two
// goroutines at once is safe (-race): Send only reads it.
func TestSendSameMessageConcurrently(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic) })
	tp := openTopicT(t, url)
	m := newMsg("twice")
	m.Metadata.Set("k", "v")
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if err := sendWait(t, tp, t.Context(), topic, m); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

var _ adapters.Topic = (*topic)(nil)
