package heraldtest

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// subscription is the harness's adapters.Subscription for one group.
type subscription struct {
	bus   *bus
	group string

	closed  bool // guarded by bus.mu
	streams map[*stream]struct{}
}

// Prepare implements adapters.Subscription: the group exists from now on
// and keeps what is published to topic for its members.
func (s *subscription) Prepare(_ context.Context, topic string) error {
	if topic == "" {
		return opError(opPrepare, topic, herald.KindInvalid, errors.New("topic is empty"))
	}
	b := s.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	if s.closed {
		return opError(opPrepare, topic, herald.KindClosed, nil)
	}
	if s.group != "" {
		b.groupFor(topic, s.group)
		b.notify()
	}
	return nil
}

// Open implements adapters.Subscription: the stream is a member of the
// group (or of a group of its own without one) from now on.
func (s *subscription) Open(ctx context.Context, topic string, o adapters.StreamOptions) (adapters.Stream, error) {
	if topic == "" {
		return nil, opError(opSubscribe, topic, herald.KindInvalid, errors.New("topic is empty"))
	}
	if err := ctx.Err(); err != nil {
		return nil, opError(opSubscribe, topic, herald.KindOther, err)
	}
	b := s.bus
	b.mu.Lock()
	if s.closed || b.closed {
		b.mu.Unlock()
		return nil, opError(opSubscribe, topic, herald.KindClosed, nil)
	}
	st := &stream{s: s, topic: topic, window: max(o.Window, 1), status: o.Status,
		unsettled: map[uint64]*entry{}, lost: map[uint64]struct{}{}}
	if s.group == "" {
		st.g, st.groupKey = b.privateGroup(topic)
	} else {
		st.g = b.groupFor(topic, s.group)
	}
	st.g.members[st] = struct{}{}
	s.streams[st] = struct{}{}
	down := b.down
	b.notify()
	b.mu.Unlock()
	if down {
		st.report(b.downCause)
	}
	return st, nil
}

// Close implements adapters.Subscription: open streams are closed.
func (s *subscription) Close(ctx context.Context) error {
	b := s.bus
	b.mu.Lock()
	if s.closed {
		b.mu.Unlock()
		return nil
	}
	s.closed = true
	streams := make([]*stream, 0, len(s.streams))
	for st := range s.streams {
		streams = append(streams, st)
	}
	b.mu.Unlock()
	for _, st := range streams {
		_ = st.Close(ctx)
	}
	return nil
}

// As implements adapters.Subscription: the harness has no client object.
func (s *subscription) As(any) bool { return false }

// stream is one member of a group. What it handed out and is not settled
// is in unsettled; deliveries an outage took from it (Down) are in lost
// until the subscriber is done with them (it settles them, which does
// nothing, or finds them not Valid and skips them), so that Drain counts
// a handler still running on one.
type stream struct {
	s        *subscription
	g        *group
	groupKey string // the private group's key in bus.topics, else ""
	topic    string
	window   int

	// guarded by bus.mu
	closed    bool
	seq       uint64
	unsettled map[uint64]*entry
	lost      map[uint64]struct{}

	statusMu sync.Mutex // held while calling status; Close waits for it
	status   func(error)
	quiet    bool // set under statusMu by Close: status is not called any more
}

func (st *stream) closedErr() error { return opError(opSubscribe, st.topic, herald.KindClosed, nil) }

// Receive implements adapters.Stream.
func (st *stream) Receive(ctx context.Context, buf []adapters.Received) (int, error) {
	if len(buf) == 0 {
		return 0, nil
	}
	b := st.s.bus
	for {
		b.mu.Lock()
		if st.closed {
			b.mu.Unlock()
			return 0, st.closedErr()
		}
		if room := st.window - len(st.unsettled); room > 0 && !b.down {
			if es := st.g.take(min(room, len(buf))); len(es) > 0 {
				n := st.hand(buf, es)
				b.notify()
				b.mu.Unlock()
				return n, nil
			}
		}
		wait := b.changed
		b.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// hand records es as unsettled and fills buf; bus.mu is held.
func (st *stream) hand(buf []adapters.Received, es []*entry) int {
	b := st.s.bus
	for i, e := range es {
		st.seq++
		e.attempts++
		e.dead = false
		st.unsettled[st.seq] = e
		b.rec.attempts[attemptKey{st.g.topic, st.g.name, e.msg.UUID}]++
		buf[i] = adapters.Received{Msg: clone(e.msg), Key: e.key, Attempt: e.attempts, Token: adapters.Token{Seq: st.seq}}
	}
	return len(es)
}

// settle removes the delivery t from the unsettled ones and returns it,
// or nil when it is not unsettled (lost to an outage, released by Close,
// settled already); bus.mu is held.
func (st *stream) settle(t adapters.Token) *entry {
	delete(st.lost, t.Seq)
	e, ok := st.unsettled[t.Seq]
	if !ok || st.closed {
		return nil
	}
	delete(st.unsettled, t.Seq)
	return e
}

// Ack implements adapters.Stream.
func (st *stream) Ack(t adapters.Token) {
	b := st.s.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	defer b.notify()
	e := st.settle(t)
	if e == nil {
		return
	}
	st.g.done(e)
	o := Handled
	if e.dead {
		o = DeadLettered
	}
	b.settled(st.g, e, o, 0)
}

// Nack implements adapters.Stream: the message is delivered again after
// delay on the harness's clock (at once for 0), before later messages of
// its key, possibly to another member of the group.
func (st *stream) Nack(t adapters.Token, delay time.Duration) {
	b := st.s.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	defer b.notify()
	e := st.settle(t)
	if e == nil {
		return
	}
	b.settled(st.g, e, Failed, delay)
	if delay <= 0 {
		st.g.requeue(e)
		return
	}
	b.hold(st.g, e, delay)
}

// Valid implements adapters.Stream: a delivery is valid until it is
// settled, the stream closes or an outage (Down) takes it. The subscriber
// skips a delivery it finds not Valid: it is done with it.
func (st *stream) Valid(t adapters.Token) bool {
	b := st.s.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := st.unsettled[t.Seq]; ok && !st.closed {
		return true
	}
	if _, ok := st.lost[t.Seq]; ok {
		delete(st.lost, t.Seq)
		b.notify()
	}
	return false
}

// lose takes the unsettled deliveries back into the group's queue, as a
// broker does with those of a dropped connection; bus.mu is held.
func (st *stream) lose() {
	for seq := range st.unsettled {
		st.lost[seq] = struct{}{}
	}
	st.release()
}

// release makes the unsettled deliveries ready again (in publish order,
// before the later messages of their keys); bus.mu is held.
func (st *stream) release() {
	for _, e := range st.unsettled {
		st.g.requeue(e)
	}
	clear(st.unsettled)
}

// report passes err to the subscriber's Status, unless the stream closed.
func (st *stream) report(err error) {
	st.statusMu.Lock()
	defer st.statusMu.Unlock()
	if !st.quiet {
		st.status(err)
	}
}

// Close implements adapters.Stream: the unsettled deliveries are ready
// again for the group's other members; a private group ends.
func (st *stream) Close(context.Context) error {
	b := st.s.bus
	b.mu.Lock()
	if st.closed {
		b.mu.Unlock()
		return nil
	}
	st.closed = true
	st.release()
	clear(st.lost)
	delete(st.g.members, st)
	delete(st.s.streams, st)
	if st.g.private {
		b.dropGroup(st.g, st.groupKey)
	}
	b.notify()
	b.mu.Unlock()
	st.statusMu.Lock()
	st.quiet = true
	st.statusMu.Unlock()
	return nil
}

// markDead marks the delivery of message id, handed out from topic to
// group and not settled, as dead-lettered: its ack is then recorded as
// DeadLettered. group "" stands for the subscribers without a group;
// bus.mu is held.
func (b *bus) markDead(topic, group, id string) {
	for _, g := range b.topics[topic] {
		if g.name != group {
			continue
		}
		for st := range g.members {
			for _, e := range st.unsettled {
				if e.msg.UUID == id {
					e.dead = true
				}
			}
		}
	}
}
