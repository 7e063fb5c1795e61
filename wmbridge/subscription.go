package wmbridge

import (
	"context"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// subscription is the consume side of a Watermill Pub/Sub: one Watermill
// subscriber (for the configuration's group), one Subscribe call per
// stream.
type subscription struct {
	d   *driver
	sub message.Subscriber

	mu      sync.Mutex
	closed  bool
	streams map[*stream]struct{}
}

func newSubscription(d *driver, sub message.Subscriber) *subscription {
	return &subscription{d: d, sub: sub, streams: map[*stream]struct{}{}}
}

// Prepare calls the subscriber's SubscribeInitialize where it has one
// (watermill-kafka creates the topic, watermill-sql its tables).
func (s *subscription) Prepare(ctx context.Context, topic string) error {
	if s.isClosed() {
		return s.d.closedError("prepare", topic)
	}
	si, ok := s.sub.(message.SubscribeInitializer)
	if !ok {
		return nil
	}
	errc := make(chan error, 1)
	go func() { errc <- si.SubscribeInitialize(topic) }()
	select {
	case err := <-errc:
		if err != nil {
			return s.d.wrap("prepare", topic, herald.KindUnreachable, err)
		}
		return nil
	case <-ctx.Done():
		return &herald.Error{Backend: s.d.b.Name, Op: "prepare", Topic: topic, Kind: herald.KindUnreachable, Err: ctx.Err()}
	}
}

// Open calls the subscriber's Subscribe with a context that lives until
// the stream's Close.
func (s *subscription) Open(ctx context.Context, topic string, o adapters.StreamOptions) (adapters.Stream, error) {
	if err := ctx.Err(); err != nil {
		return nil, &herald.Error{Backend: s.d.b.Name, Op: "subscribe to", Topic: topic, Kind: herald.KindUnreachable, Err: err}
	}
	sctx, cancel := context.WithCancel(context.Background())
	ch, err := s.sub.Subscribe(sctx, topic)
	if err != nil {
		cancel()
		if s.isClosed() {
			return nil, s.d.closedError("subscribe to", topic)
		}
		return nil, s.d.wrap("subscribe to", topic, herald.KindUnreachable, err)
	}
	st := newStream(s, topic, ch, cancel, max(o.Window, 1))
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		cancel()
		return nil, s.d.closedError("subscribe to", topic)
	}
	s.streams[st] = struct{}{}
	s.mu.Unlock()
	return st, nil
}

func (s *subscription) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *subscription) forget(st *stream) {
	s.mu.Lock()
	delete(s.streams, st)
	s.mu.Unlock()
}

// Close closes the streams still open, then the Watermill subscriber.
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
	if err := s.sub.Close(); err != nil {
		return s.d.wrap("close subscriber", "", herald.KindOther, err)
	}
	return nil
}

func (s *subscription) As(target any) bool { return setAs(target, s.sub) }
