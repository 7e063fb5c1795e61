package sim

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// subscription is the adapters.Subscription of a Broker for one group.
type subscription struct {
	b     *Broker
	id    int    // 1 for the broker's first
	group string // "" for a private subscription

	// guarded by b.mu
	closed  bool
	streams map[*stream]struct{}
}

var _ adapters.Subscription = (*subscription)(nil)

// group is a topic's consumer group: every message stored after it was
// made, until acked.
type group struct {
	b       *Broker
	name    string
	t       *topicLog
	entries []*entry // in log order
	first   int      // entries before it are acked
	streams []*stream
	owner   map[string]*stream // OrderKey: the stream a key belongs to
	unacked int
}

// entry is a message of a group.
type entry struct {
	s       *stored
	acked   bool
	out     *delivery // the delivery not settled yet, if any
	readyAt time.Time // not delivered before (a nack's delay)
	count   int       // deliveries so far
}

// groupOf returns topic's group name, creating it; b.mu is held.
func (b *Broker) groupOf(topic, name string) *group {
	t := b.topic(topic)
	g, ok := t.groups[name]
	if !ok {
		g = &group{b: b, name: name, t: t, owner: map[string]*stream{}}
		t.groups[name] = g
	}
	return g
}

// add gives g a message just stored; b.mu is held.
func (g *group) add(s *stored) {
	g.entries = append(g.entries, &entry{s: s})
	g.unacked++
	g.kick()
}

// kick wakes the group's streams.
func (g *group) kick() {
	for _, st := range g.streams {
		st.kick()
	}
}

// Prepare implements adapters.Subscription: the group is made, so that
// it keeps the messages stored from now on.
func (s *subscription) Prepare(ctx context.Context, topic string) error {
	if topic == "" {
		return opError("prepare", topic, herald.KindInvalid, errors.New("topic is empty"))
	}
	if err := ctx.Err(); err != nil {
		return opError("prepare", topic, herald.KindUnreachable, err)
	}
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if s.closed {
		return opError("prepare", topic, herald.KindClosed, nil)
	}
	if s.group != "" {
		s.b.groupOf(topic, s.group)
	}
	return nil
}

// Open implements adapters.Subscription.
func (s *subscription) Open(ctx context.Context, topic string, o adapters.StreamOptions) (adapters.Stream, error) {
	b := s.b
	if topic == "" {
		return nil, opError("subscribe to", topic, herald.KindInvalid, errors.New("topic is empty"))
	}
	if o.Window < 1 {
		b.violation("Open %q: StreamOptions.Window is %d", topic, o.Window)
		return nil, opError("subscribe to", topic, herald.KindInvalid, fmt.Errorf("window %d", o.Window))
	}
	if max := b.plan.Caps.MaxWindow; max > 0 && o.Window > max {
		b.violation("Open %q: StreamOptions.Window is %d, over Capabilities.MaxWindow %d", topic, o.Window, max)
	}
	if o.Status == nil {
		b.violation("Open %q: StreamOptions.Status is nil", topic)
		o.Status = func(error) {}
	}
	if err := ctx.Err(); err != nil {
		return nil, opError("subscribe to", topic, herald.KindUnreachable, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if s.closed {
		return nil, opError("subscribe to", topic, herald.KindClosed, nil)
	}
	b.nextStr++
	id := b.nextStr
	if !b.calm && chance(Rand(b.seed, "open", id), b.plan.POpenFail) {
		err := opError("subscribe to", topic, herald.KindUnreachable, errors.New("simulated: connection refused"))
		b.note(Event{What: Opened, Stream: id, Err: err})
		return nil, err
	}
	name := s.group
	if name == "" {
		name = fmt.Sprintf("~private%d", id)
	}
	g := b.groupOf(topic, name)
	st := &stream{b: b, g: g, sub: s, id: id, topic: topic, window: o.Window, status: o.Status,
		unsettled: map[uint64]*delivery{}, delayed: map[*delivery]struct{}{}, wake: make(chan struct{}, 1)}
	g.streams = append(g.streams, st)
	s.streams[st] = struct{}{}
	b.note(Event{What: Opened, Stream: id, Note: fmt.Sprintf("group=%s window=%d subscription=%d", name, o.Window, s.id)})
	st.scheduleFault()
	return st, nil
}

// Close implements adapters.Subscription: its open streams are closed.
func (s *subscription) Close(ctx context.Context) error {
	s.b.mu.Lock()
	s.closed = true
	var open []*stream
	for st := range s.streams {
		open = append(open, st)
	}
	s.b.mu.Unlock()
	for _, st := range open {
		_ = st.Close(ctx)
	}
	return nil
}

// As implements adapters.Subscription: a **Broker target receives the
// broker.
func (s *subscription) As(target any) bool {
	if t, ok := target.(**Broker); ok {
		*t = s.b
		return true
	}
	return false
}
