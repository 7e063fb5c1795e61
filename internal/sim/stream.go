package sim

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// stream is the adapters.Stream of a Broker.
type stream struct {
	b      *Broker
	g      *group
	sub    *subscription
	id     int
	topic  string
	window int
	status func(error)
	wake   chan struct{} // a delivery may be ready, or the stream changed

	// guarded by b.mu
	closed    bool
	broken    error // Receive's error once the stream broke
	down      bool  // a status outage: nothing is delivered
	unsettled map[uint64]*delivery
	delayed   map[*delivery]struct{} // acks on their way to the broker
	faults    int
	receives  int

	receiving atomic.Bool
	statusMu  sync.Mutex // held while Status is called; Close ends it
	silenced  bool       // guarded by statusMu: Close returned
}

var _ adapters.Stream = (*stream)(nil)

// delivery is one delivery of an entry to a stream.
type delivery struct {
	id      uint64
	e       *entry
	st      *stream
	valid   bool // guarded by b.mu
	settled bool // Ack or Nack was called
	applied bool // the ack reached the broker
}

// kick wakes Receive.
func (st *stream) kick() {
	select {
	case st.wake <- struct{}{}:
	default:
	}
}

// Receive implements adapters.Stream.
func (st *stream) Receive(ctx context.Context, buf []adapters.Received) (int, error) {
	b := st.b
	if !st.receiving.CompareAndSwap(false, true) {
		b.violation("stream %d: Receive called while another Receive runs", st.id)
	} else {
		defer st.receiving.Store(false)
	}
	if len(buf) == 0 {
		return 0, nil
	}
	for {
		b.mu.Lock()
		if st.closed {
			b.mu.Unlock()
			return 0, opError("receive from", st.topic, herald.KindClosed, nil)
		}
		if st.broken != nil {
			err := st.broken
			b.mu.Unlock()
			return 0, err
		}
		if !st.down {
			if n := st.fill(buf); n > 0 {
				b.mu.Unlock()
				return n, nil
			}
		}
		b.mu.Unlock()
		select {
		case <-st.wake:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// fill hands out up to len(buf) deliveries within the window; b.mu is
// held.
func (st *stream) fill(buf []adapters.Received) int {
	b, g := st.b, st.g
	room := min(len(buf), st.window-len(st.unsettled))
	if room <= 0 {
		return 0
	}
	for g.first < len(g.entries) && g.entries[g.first].acked {
		g.first++
	}
	now := time.Now()
	var ready []*entry
	for _, e := range g.entries[g.first:] {
		if e.acked || e.out != nil || e.readyAt.After(now) {
			continue
		}
		if b.plan.Caps.Order == adapters.OrderKey && e.s.key != "" {
			if ow := g.owner[e.s.key]; ow != nil && ow != st {
				continue
			}
		}
		ready = append(ready, e)
		if b.plan.Caps.Order != adapters.OrderNone && len(ready) == room {
			break
		}
	}
	if b.plan.Caps.Order == adapters.OrderNone && len(ready) > 1 {
		r := Rand(b.seed, "shuffle", st.id, st.receives)
		r.Shuffle(len(ready), func(i, j int) { ready[i], ready[j] = ready[j], ready[i] })
	}
	st.receives++
	n := 0
	for _, e := range ready {
		if n == room {
			break
		}
		if b.plan.Caps.Order == adapters.OrderKey && e.s.key != "" {
			g.owner[e.s.key] = st
		}
		buf[n] = st.deliver(e)
		n++
	}
	return n
}

// deliver makes a delivery of e; b.mu is held.
func (st *stream) deliver(e *entry) adapters.Received {
	b := st.b
	b.nextDel++
	d := &delivery{id: b.nextDel, e: e, st: st, valid: true}
	e.out = d
	e.count++
	st.unsettled[d.id] = d
	m := e.s.msg.Copy()
	m.Metadata.Set(DeliveryHeader, strconv.FormatUint(d.id, 10))
	attempt := 0
	if b.plan.Caps.CountsAttempts {
		attempt = e.count
	}
	b.note(Event{What: Delivered, Msg: m.UUID, Key: e.s.key, Del: d.id, Stream: st.id, Note: fmt.Sprintf("pos=%d delivery=%d", e.s.pos, e.count)})
	return adapters.Received{Msg: m, Key: e.s.key, Attempt: attempt, Token: adapters.Token{Seq: d.id, Part: int32(st.id), Ref: d}}
}

// delivery returns t's delivery, recording a token that is not this
// stream's.
func (st *stream) delivery(t adapters.Token, op string) *delivery {
	d, ok := t.Ref.(*delivery)
	if !ok || d == nil || d.st != st || d.id != t.Seq {
		st.b.violation("stream %d: %s of a token this stream did not hand out (%+v)", st.id, op, t)
		return nil
	}
	return d
}

// invalidate turns d's token invalid and returns its message to the
// group; b.mu is held.
func (st *stream) invalidate(d *delivery, why string) {
	if !d.valid {
		return
	}
	d.valid = false
	delete(st.unsettled, d.id)
	delete(st.delayed, d)
	if e := d.e; e.out == d && !e.acked {
		e.out = nil
		e.readyAt = time.Time{}
		st.b.note(Event{What: Invalid, Msg: e.s.msg.UUID, Key: e.s.key, Del: d.id, Stream: st.id, Note: why})
	}
	st.g.kick()
}

// invalidateAll invalidates every unsettled delivery and gives up the
// stream's keys; b.mu is held.
func (st *stream) invalidateAll(why string) {
	for _, d := range st.sorted() {
		st.invalidate(d, why)
	}
	for k, ow := range st.g.owner {
		if ow == st {
			delete(st.g.owner, k)
		}
	}
}

// sorted returns the unsettled deliveries in delivery order; b.mu is
// held.
func (st *stream) sorted() []*delivery {
	ds := make([]*delivery, 0, len(st.unsettled))
	for _, d := range st.unsettled {
		ds = append(ds, d)
	}
	slices.SortFunc(ds, func(a, b *delivery) int { return cmp.Compare(a.id, b.id) })
	return ds
}

// Ack implements adapters.Stream. The ack reaches the broker now or,
// by the plan, after a delay; a delivery that turned invalid meanwhile
// loses it.
func (st *stream) Ack(t adapters.Token) {
	b := st.b
	d := st.delivery(t, "Ack")
	if d == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.note(Event{What: AckCalled, Msg: d.e.s.msg.UUID, Key: d.e.s.key, Del: d.id, Stream: st.id})
	if d.settled {
		b.violation("stream %d: delivery %d settled twice (Ack)", st.id, d.id)
		return
	}
	d.settled = true
	if st.closed || !d.valid {
		b.note(Event{What: AckLost, Msg: d.e.s.msg.UUID, Del: d.id, Stream: st.id, Note: "the token was invalid"})
		return
	}
	r := Rand(b.seed, "ack", d.id)
	if !b.calm && chance(r, b.plan.PAckDelay) {
		st.delayed[d] = struct{}{}
		b.after(upTo(r, b.plan.AckDelay), func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			st.applyAck(d)
		})
		return
	}
	st.applyAck(d)
}

// applyAck settles d at the broker; b.mu is held.
func (st *stream) applyAck(d *delivery) {
	b := st.b
	if d.applied {
		return
	}
	delete(st.delayed, d)
	if !d.valid {
		b.note(Event{What: AckLost, Msg: d.e.s.msg.UUID, Del: d.id, Stream: st.id, Note: "the delivery turned invalid before the ack arrived"})
		return
	}
	d.applied = true
	delete(st.unsettled, d.id)
	e := d.e
	e.out = nil
	if !e.acked {
		e.acked = true
		st.g.unacked--
	}
	b.note(Event{What: AckApplied, Msg: e.s.msg.UUID, Key: e.s.key, Del: d.id, Stream: st.id})
	b.signal()
	st.kick()
}

// Nack implements adapters.Stream.
func (st *stream) Nack(t adapters.Token, delay time.Duration) {
	b := st.b
	d := st.delivery(t, "Nack")
	if d == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.note(Event{What: NackCalled, Msg: d.e.s.msg.UUID, Key: d.e.s.key, Del: d.id, Stream: st.id, Note: "delay=" + delay.String()})
	caps := b.plan.Caps
	switch {
	case caps.Redelivery == adapters.RedeliverLocal:
		b.violation("stream %d: Nack of delivery %d under RedeliverLocal", st.id, d.id)
	case delay > 0 && !caps.NackDelay:
		b.violation("stream %d: Nack of delivery %d with delay %v, but NackDelay is false", st.id, d.id, delay)
	case delay < 0:
		b.violation("stream %d: Nack of delivery %d with delay %v", st.id, d.id, delay)
	}
	if d.settled {
		b.violation("stream %d: delivery %d settled twice (Nack)", st.id, d.id)
		return
	}
	d.settled = true
	if st.closed || !d.valid {
		return
	}
	d.valid = false
	delete(st.unsettled, d.id)
	e := d.e
	e.out = nil
	if caps.NackDelay && delay > 0 {
		e.readyAt = time.Now().Add(delay)
		b.after(delay, func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			st.g.kick()
		})
	}
	b.note(Event{What: Requeued, Msg: e.s.msg.UUID, Key: e.s.key, Del: d.id, Stream: st.id, Note: "nacked"})
	st.g.kick()
}

// Valid implements adapters.Stream.
func (st *stream) Valid(t adapters.Token) bool {
	d := st.delivery(t, "Valid")
	if d == nil {
		return false
	}
	st.b.mu.Lock()
	defer st.b.mu.Unlock()
	return d.valid && !st.closed && st.broken == nil
}

// Close implements adapters.Stream: acks on their way reach the broker,
// the deliveries not settled return to the group, and Status is not
// called after Close returned.
func (st *stream) Close(ctx context.Context) error {
	b := st.b
	b.mu.Lock()
	if !st.closed {
		st.closed = true
		for d := range st.delayed {
			st.applyAck(d)
		}
		st.invalidateAll("stream closed")
		for i, o := range st.g.streams {
			if o == st {
				st.g.streams = append(st.g.streams[:i], st.g.streams[i+1:]...)
				break
			}
		}
		delete(st.sub.streams, st)
		b.note(Event{What: Closed, Stream: st.id})
		st.kick()
	}
	b.mu.Unlock()
	st.statusMu.Lock()
	st.silenced = true
	st.statusMu.Unlock()
	return nil
}

// report calls Status with err unless Close returned.
func (st *stream) report(err error) {
	st.statusMu.Lock()
	defer st.statusMu.Unlock()
	if st.silenced {
		return
	}
	st.b.note(Event{What: Status, Stream: st.id, Err: err})
	st.status(err)
	st.b.mu.Lock()
	f := st.b.onStatus
	st.b.mu.Unlock()
	if f != nil {
		f(st.sub.id, err)
	}
}
