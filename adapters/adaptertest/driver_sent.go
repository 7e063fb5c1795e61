package adaptertest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// sent records the answers of Sends, one slot per message.
type sent struct {
	mu    sync.Mutex
	calls []int
	errs  []error
	left  int
	all   chan struct{} // closed when every message was answered once
	slow  time.Duration // how long each done runs before it records its answer
}

func newSent(n int) *sent {
	s := &sent{calls: make([]int, n), errs: make([]error, n), left: n, all: make(chan struct{})}
	if n == 0 {
		close(s.all)
	}
	return s
}

// done returns message i's done function.
func (s *sent) done(i int) func(error) {
	return func(err error) {
		// A slow callback: the answer counts once done returns, so a
		// Close that returns while a done still runs is caught.
		time.Sleep(s.slow)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.calls[i]++
		if s.calls[i] == 1 {
			s.errs[i] = err
			s.left--
			if s.left == 0 {
				close(s.all)
			}
		}
	}
}

// refused marks message i as not taken (Send returned err): it counts as
// answered, and its done must not be called.
func (s *sent) refused(i int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[i] += 1000 // a done call after a refusal shows as 1001
	s.errs[i] = err
	s.left--
	if s.left == 0 {
		close(s.all)
	}
}

// wait fails t unless every message was answered within d.
func (s *sent) wait(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-s.all:
	case <-time.After(d):
		s.mu.Lock()
		defer s.mu.Unlock()
		t.Fatalf("%d of %d Sends unanswered after %v (done never called)", s.left, len(s.calls), d)
	}
}

// answered reports whether every message was answered.
func (s *sent) answered() bool {
	select {
	case <-s.all:
		return true
	default:
		return false
	}
}

// pending returns how many messages are unanswered.
func (s *sent) pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.left
}

// checkOnce fails t for every message whose done was called more than
// once, or called although Send refused it.
func (s *sent) checkOnce(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, n := range s.calls {
		switch {
		case n > 1000:
			t.Errorf("message %d: Send returned an error (%v), yet done was called", i, s.errs[i])
		case n > 1 && n < 1000:
			t.Errorf("message %d: done called %d times; want exactly once", i, n)
		}
	}
}

// result returns message i's answer.
func (s *sent) result(i int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.errs[i]
}

// sendAll sends msgs to topic on tp in order, without waiting between
// them, and returns their answers.
func sendAll(ctx context.Context, tp adapters.Topic, topic string, msgs []*herald.Message) *sent {
	return sendInto(ctx, tp, topic, msgs, newSent(len(msgs)))
}

// sendInto is sendAll recording the answers in s.
func sendInto(ctx context.Context, tp adapters.Topic, topic string, msgs []*herald.Message, s *sent) *sent {
	for i, m := range msgs {
		if err := tp.Send(ctx, topic, m, adapters.SendOptions{}, s.done(i)); err != nil {
			s.refused(i, err)
		}
	}
	return s
}

// publish sends msgs and fails t unless each was acknowledged (done(nil))
// exactly once within the suite's wait.
func (e *denv) publish(t *testing.T, tp adapters.Topic, topic string, msgs ...*herald.Message) {
	t.Helper()
	s := sendAll(e.ctx(), tp, topic, msgs)
	s.wait(t, e.wait())
	s.checkOnce(t)
	for i := range msgs {
		if err := s.result(i); err != nil {
			t.Fatalf("Send %d of %d to %q: %v", i+1, len(msgs), topic, err)
		}
	}
}
