package natsx

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// jetstreamTopic returns a Topic on an in-process JetStream server.
func jetstreamTopic(t *testing.T) *Topic {
	t.Helper()
	nc := inProcess(t, true)
	tp, err := NewTopic(nc, Settings{Provision: true, Storage: jetstream.MemoryStorage, Replicas: 1}, Options{Scheme: "nats"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		tp.Close(ctx) //nolint:errcheck // cleanup, bounded: a test that failed may leave a message unanswered
	})
	return tp
}

// failingJS fails the writes it is told to, once each, after hold
// returns; the rest go to the real JetStream.
type failingJS struct {
	jetstream.JetStream
	mu   sync.Mutex
	fail []error // the next writes' failures, in order
	hold func()  // runs before a failure is returned
}

func (f *failingJS) PublishMsgAsync(m *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	f.mu.Lock()
	var err error
	if len(f.fail) > 0 {
		err, f.fail = f.fail[0], f.fail[1:]
	}
	f.mu.Unlock()
	if err == nil {
		return f.JetStream.PublishMsgAsync(m, opts...)
	}
	if f.hold != nil {
		f.hold()
	}
	return nil, err
}

// answers records the dones of one Send.
type answers struct {
	mu   sync.Mutex
	errs []error
	one  chan struct{} // closed at the first
}

func newAnswers() *answers { return &answers{one: make(chan struct{})} }

func (a *answers) done(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.errs = append(a.errs, err)
	if len(a.errs) == 1 {
		close(a.one)
	}
}

func (a *answers) wait(t *testing.T) []error {
	t.Helper()
	select {
	case <-a.one:
	case <-time.After(10 * time.Second):
		t.Fatal("done was not called within 10 s")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]error(nil), a.errs...)
}

// warm sends one message to topic so that its stream is known.
func warm(t *testing.T, tp *Topic, topic string) {
	t.Helper()
	a := newAnswers()
	if err := tp.Send(context.Background(), topic, herald.NewMessage([]byte("warm")), adapters.SendOptions{}, a.done); err != nil {
		t.Fatal(err)
	}
	if errs := a.wait(t); errs[0] != nil {
		t.Fatal(errs[0])
	}
}

// A write that fails for want of the connection is written again: the
// message's PubAck then settles it. Before, the entry taken back stayed
// marked done when it was taken again, so its PubAck was ignored and done
// was never called (nor by Close).
func TestSendRetakenAfterFailedWriteIsAnswered(t *testing.T) {
	tp := jetstreamTopic(t)
	warm(t, tp, "retake")
	tp.js = &failingJS{JetStream: tp.js, fail: []error{nats.ErrDisconnected}}
	a := newAnswers()
	if err := tp.Send(context.Background(), "retake", herald.NewMessage([]byte("again")), adapters.SendOptions{}, a.done); err != nil {
		t.Fatal(err)
	}
	if errs := a.wait(t); len(errs) != 1 || errs[0] != nil {
		t.Fatalf("done calls: %v; want one, nil (written again, acknowledged)", errs)
	}
	if n := tp.open.Load(); n != 0 {
		t.Errorf("%d messages counted open with none in flight; want 0", n)
	}
}

// A message whose deadline passes while it is being written is settled by
// the resender (done: outcome unknown); when the write then fails, Send
// returns nil: done was its one outcome. Before, Send took it back and
// returned the write's error too, and the open count went below zero, so
// that a later Close no longer waited for a done still running.
func TestSendSettledWhileWritingHasOneOutcome(t *testing.T) {
	tp := jetstreamTopic(t)
	warm(t, tp, "settled")
	a := newAnswers()
	tp.js = &failingJS{JetStream: tp.js, fail: []error{errors.New("write refused")}, hold: func() { <-a.one }}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	err := tp.Send(ctx, "settled", herald.NewMessage([]byte("late")), adapters.SendOptions{}, a.done)
	errs := a.wait(t)
	if err != nil {
		t.Errorf("Send = %v after done(%v); want nil: a message has one outcome", err, errs[0])
	}
	if len(errs) != 1 || herald.KindOf(errs[0]) != herald.KindOutcomeUnknown {
		t.Errorf("done calls: %v; want one, outcome unknown", errs)
	}
	if n := tp.open.Load(); n != 0 {
		t.Errorf("%d messages counted open with none in flight; want 0", n)
	}
}
