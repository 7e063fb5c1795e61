package memory

import (
	"context"
	"errors"
	"sync"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// subscription is the memory bus's adapters.Subscription for one group.
type subscription struct {
	bus   *bus
	group string

	mu      sync.Mutex
	closed  bool
	streams map[*stream]struct{}
}

// Prepare implements adapters.Subscription: the group exists from now
// on and keeps what is published to topic for its members.
func (s *subscription) Prepare(_ context.Context, topic string) error {
	if err := s.check(opPrepare, topic); err != nil {
		return err
	}
	if s.group != "" {
		s.bus.group(topic, s.group)
	}
	return nil
}

func (s *subscription) check(op, topic string) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return closedError(op, topic)
	}
	if topic == "" {
		return opError(op, topic, herald.KindInvalid, errors.New("topic is empty"))
	}
	return nil
}

// Open implements adapters.Subscription: the stream is a member of the
// group (or of a group of its own without one).
func (s *subscription) Open(ctx context.Context, topic string, o adapters.StreamOptions) (adapters.Stream, error) {
	if err := s.check(opSubscribe, topic); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, opError(opSubscribe, topic, herald.KindOther, err)
	}
	st := &stream{s: s, topic: topic, window: max(o.Window, 1), unsettled: map[uint64]*herald.Message{},
		free: make(chan struct{}, 1), done: make(chan struct{}), drop: func() {}}
	if s.group == "" {
		st.g, st.drop = s.bus.private(topic)
	} else {
		st.g = s.bus.group(topic, s.group)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		st.drop()
		return nil, closedError(opSubscribe, topic)
	}
	s.streams[st] = struct{}{}
	return st, nil
}

// Close implements adapters.Subscription: open streams are closed.
func (s *subscription) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	streams := make([]*stream, 0, len(s.streams))
	for st := range s.streams {
		streams = append(streams, st)
	}
	s.mu.Unlock()
	for _, st := range streams {
		_ = st.Close(ctx)
	}
	s.bus.release()
	return nil
}

// As implements adapters.Subscription: the bus has no client object.
func (s *subscription) As(any) bool { return false }
