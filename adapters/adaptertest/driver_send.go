package adaptertest

import (
	"bytes"
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// testDriverSendAnswersOnce: every Send that returned nil has its done
// called exactly once, with nil on a healthy broker, and never again
// after Topic.Close returned.
func testDriverSendAnswersOnce(t *testing.T, e *denv) {
	const n = 200
	topic := e.topic("dsend")
	tp := e.openTopic()
	msgs := messages(n, "once")
	for i, m := range msgs {
		herald.SetKey(m, "k"+strconv.Itoa(i%4))
	}
	s := sendAll(e.ctx(), tp, topic, msgs)
	s.wait(t, e.wait())
	for i := range msgs {
		if err := s.result(i); err != nil {
			t.Errorf("message %d: %v; want done(nil) from a healthy broker", i, err)
		}
	}
	closeWithin(t, "Topic", e.wait(), tp.Close)
	s.checkOnce(t)
}

// testDriverSentIsReceived: a message whose done got nil is received by a
// stream opened before it was sent, with its ID, payload, metadata and
// key unchanged (Received.Key is herald.Key), Valid true, and Attempt 1
// where the driver CountsAttempts, else 0.
func testDriverSentIsReceived(t *testing.T, e *denv) {
	topic := e.topic("drecv")
	st := e.openStream(e.openSub(e.group("drecv")), topic, 16)
	tp := e.openTopic()
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	cases := []struct {
		name, key string
		payload   []byte
	}{
		{"binary", "key-binary", binary},
		{"empty", "key-empty", []byte{}},
		{"text", "", []byte(`{"order":1234,"note":"ünïcødé"}`)},
	}
	byID := map[string]*herald.Message{}
	var msgs []*herald.Message
	for _, c := range cases {
		m := herald.NewMessage(c.payload)
		if c.key != "" {
			herald.SetKey(m, c.key)
		}
		m.Metadata.Set("case", c.name)
		m.Metadata.Set("unicode-ключ", "значение ✓")
		m.Metadata.Set("with space", "a=b: c")
		byID[m.UUID] = m
		msgs = append(msgs, m)
	}
	e.publish(t, tp, topic, msgs...)
	for _, r := range st.untilEach(t, msgs, func(r adapters.Received) {
		if !st.Valid(r.Token) {
			t.Errorf("%s: Valid = false for a fresh delivery", r.Msg.Metadata.Get("case"))
		}
		st.Ack(r.Token)
	}) {
		want, ok := byID[r.Msg.UUID]
		if !ok {
			t.Errorf("received unknown message %q", r.Msg.UUID)
			continue
		}
		name := want.Metadata.Get("case")
		if !bytes.Equal(r.Msg.Payload, want.Payload) {
			t.Errorf("%s: payload %d bytes %q; want %d bytes", name, len(r.Msg.Payload), r.Msg.Payload, len(want.Payload))
		}
		for k, v := range want.Metadata {
			if got := r.Msg.Metadata.Get(k); got != v {
				t.Errorf("%s: metadata[%q] = %q; want %q", name, k, got, v)
			}
		}
		if r.Key != herald.Key(want) {
			t.Errorf("%s: Received.Key = %q; want %q", name, r.Key, herald.Key(want))
		}
		wantAttempt := 0
		if st.caps.CountsAttempts {
			wantAttempt = 1
		}
		if r.Attempt != wantAttempt {
			t.Errorf("%s: Attempt = %d on a first delivery; want %d (CountsAttempts %v)", name, r.Attempt, wantAttempt, st.caps.CountsAttempts)
		}
	}
}

// testDriverSendAfterClose: after Topic.Close, Send fails with KindClosed
// (returned, or through done) naming the topic; Close is idempotent.
func testDriverSendAfterClose(t *testing.T, e *denv) {
	topic := e.topic("dclosed")
	tp := e.openTopic()
	closeWithin(t, "Topic", e.wait(), tp.Close)
	closeWithin(t, "Topic (again)", e.wait(), tp.Close)
	s := sendAll(e.ctx(), tp, topic, messages(1, "late"))
	s.wait(t, e.wait())
	s.checkOnce(t)
	e.checkError(t, "Send after Close", s.result(0), topic, herald.KindClosed)
}

// testDriverCloseWaits: Topic.Close right after many Sends waits, within
// its ctx, for the broker's answers: when it returns every done has been
// called and has returned (each takes a moment), with nil on a healthy
// broker.
func testDriverCloseWaits(t *testing.T, e *denv) {
	const n = 200
	topic := e.topic("dclosewait")
	tp := e.openTopic()
	slow := newSent(n)
	slow.slow = 200 * time.Microsecond
	s := sendInto(e.ctx(), tp, topic, messages(n, "wait"), slow)
	closeWithin(t, "Topic", e.wait(), tp.Close)
	if !s.answered() {
		t.Fatalf("Topic.Close returned with %d of %d dones not called", s.pending(), n)
	}
	s.checkOnce(t)
	failed := 0
	for i := 0; i < n; i++ {
		if err := s.result(i); err != nil {
			if failed == 0 {
				t.Errorf("message %d: %v; Close with time to spare must wait for the broker's answer", i, err)
			}
			failed++
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d messages failed", failed, n)
	}
}

// testDriverCloseAnswersPending: Topic.Close with an expired ctx right
// after many Sends does not wait, and still calls every done before it
// returns: nil for what the broker answered, else a *herald.Error of
// KindClosed (or KindOutcomeUnknown for a message written but not
// answered).
func testDriverCloseAnswersPending(t *testing.T, e *denv) {
	const n = 500
	topic := e.topic("dclosepending")
	tp, err := e.driver.OpenTopic(e.ctx(), e.cfg, e.env())
	if err != nil {
		t.Fatalf("OpenTopic(%s): %v", e.cfg, err)
	}
	s := sendAll(e.ctx(), tp, topic, messages(n, "pending"))
	expired, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	_ = tp.Close(expired) // its error may report the messages it failed (and a second Close may repeat it)
	took := time.Since(start)
	if !s.answered() {
		t.Fatalf("Topic.Close(expired ctx) returned after %v with %d of %d dones not called", took, s.pending(), n)
	}
	s.checkOnce(t)
	failed := 0
	for i := 0; i < n; i++ {
		if err := s.result(i); err != nil {
			failed++
			e.checkError(t, "done of a message pending at Close", err, topic, herald.KindClosed, herald.KindOutcomeUnknown)
		}
	}
	t.Logf("Close(expired ctx) took %v: %d of %d messages answered by the broker, %d failed", took, n-failed, n, failed)
}

// testDriverSendExpiredContext: Send with a ctx already past its
// deadline fails promptly (Send's error or done's, a *herald.Error
// naming the topic), and the Topic still sends afterwards.
func testDriverSendExpiredContext(t *testing.T, e *denv) {
	topic := e.topic("ddeadline")
	tp := e.openTopic()
	e.publish(t, tp, topic, messages(1, "warm")...) // connected, topic known
	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	s := sendAll(expired, tp, topic, messages(1, "expired"))
	const prompt = 3 * time.Second
	s.wait(t, prompt)
	s.checkOnce(t)
	if err := s.result(0); err == nil {
		t.Errorf("Send with an expired ctx succeeded; want it failed (the message's deadline had passed before it was written)")
	} else {
		e.checkError(t, "Send with an expired ctx", err, topic)
	}
	e.publish(t, tp, topic, messages(1, "after")...)
}

// testDriverTooLarge: a message over Capabilities.MaxMessageSize fails
// with KindTooLarge naming the topic; one a little under it is taken.
// Runs where MaxMessageSize is declared (up to 256 MiB; the message under
// the limit is sent up to 16 MiB).
func testDriverTooLarge(t *testing.T, e *denv) {
	max := e.caps.MaxMessageSize
	require(t, max > 0, "MaxMessageSize")
	if max > 256<<20 {
		t.Skipf("MaxMessageSize %d is over the 256 MiB this test sends", max)
	}
	topic := e.topic("dlarge")
	tp := e.openTopic()
	over := herald.NewMessage(bytes.Repeat([]byte{'x'}, max+1))
	s := sendAll(e.ctx(), tp, topic, []*herald.Message{over})
	s.wait(t, e.wait())
	s.checkOnce(t)
	e.checkError(t, "Send of "+strconv.Itoa(max+1)+" bytes (MaxMessageSize "+strconv.Itoa(max)+")", s.result(0), topic, herald.KindTooLarge)
	if max > 16<<20 {
		t.Logf("MaxMessageSize %d: the message under the limit is not sent (over 16 MiB)", max)
		return
	}
	under := max - 4096
	if under < 1 {
		under = max / 2
	}
	e.publish(t, tp, topic, herald.NewMessage(bytes.Repeat([]byte{'y'}, under)))
}
