package sim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// conn is a publish connection: the adapters.Topic of a Broker.
type conn struct {
	b  *Broker
	id int

	// guarded by b.mu
	closed   bool
	down     bool
	outages  int
	queue    []*send // taken while down, not written yet
	inflight map[*send]struct{}
	idle     chan struct{} // closed while inflight is empty
}

var _ adapters.Topic = (*conn)(nil)

// outcome is what becomes of a message sent.
type outcome uint8

const (
	acked         outcome = iota // stored, answered nil
	unknownStored                // stored, answered KindOutcomeUnknown
	unknownLost                  // not stored, answered KindOutcomeUnknown
	unreachable                  // never written, answered KindUnreachable
	rejected                     // not stored, answered with fate.kind
	holeStored                   // stored, never answered
	holeLost                     // not stored, never answered
)

// fate is the decision about one send.
type fate struct {
	outcome outcome
	kind    herald.Kind // for rejected
	delay   time.Duration
	inline  bool
}

// send is one message taken by Send.
type send struct {
	topic    string
	m        *herald.Message
	done     func(error)
	fate     fate
	written  bool
	answered bool
	stop     func() bool // stops the ctx watch
}

func (b *Broker) openConn() *conn {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.nextConn++
	idle := make(chan struct{})
	close(idle)
	c := &conn{b: b, id: b.nextConn, inflight: map[*send]struct{}{}, idle: idle}
	b.conns[c] = struct{}{}
	c.scheduleOutage()
	return c
}

// decide draws the fate of the n-th send of id; b.mu is held.
func (c *conn) decide(id string, n int) fate {
	p := c.b.plan
	if c.b.calm {
		return fate{}
	}
	r := Rand(c.b.seed, "send", id, n)
	f := fate{delay: upTo(r, p.AnswerDelay)}
	f.inline = p.InlineAnswers && r.IntN(2) == 0
	x := r.Float64()
	for _, o := range []struct {
		p float64
		o outcome
	}{{p.PUnknownStored, unknownStored}, {p.PUnknownLost, unknownLost}, {p.PUnreachable, unreachable}, {p.PRejected, rejected}, {p.PBlackhole / 2, holeStored}, {p.PBlackhole / 2, holeLost}} {
		if x < o.p {
			f.outcome = o.o
			break
		}
		x -= o.p
	}
	if f.outcome == rejected {
		f.kind = []herald.Kind{herald.KindTooLarge, herald.KindDenied, herald.KindInvalid}[r.IntN(3)]
	}
	return f
}

// Send implements adapters.Topic. The simulated broker has no delayed
// delivery (its plans declare none) and no broker properties.
func (c *conn) Send(ctx context.Context, topic string, m *herald.Message, o adapters.SendOptions, done func(error)) error {
	b := c.b
	switch {
	case !o.At.IsZero():
		return opError("publish to", topic, herald.KindInvalid, errors.New("the simulated broker has no delayed delivery (maximum delay 0)"))
	case !o.Properties.IsZero():
		return opError("publish to", topic, herald.KindInvalid, errors.New("the simulated broker has no broker properties"))
	case topic == "":
		return opError("publish to", topic, herald.KindInvalid, errors.New("topic is empty"))
	case m == nil:
		return opError("publish to", topic, herald.KindInvalid, errors.New("message is nil"))
	case done == nil:
		b.violation("Send to %q: done is nil", topic)
		return opError("publish to", topic, herald.KindInvalid, errors.New("done is nil"))
	}
	b.mu.Lock()
	if c.closed {
		b.mu.Unlock()
		err := opError("publish to", topic, herald.KindClosed, nil)
		b.note(Event{What: Refused, Msg: m.UUID, Key: herald.Key(m), Err: err})
		return err
	}
	if ctx.Err() != nil {
		b.mu.Unlock()
		err := opError("publish to", topic, herald.KindUnreachable, ctx.Err())
		b.note(Event{What: Refused, Msg: m.UUID, Key: herald.Key(m), Err: err})
		return err
	}
	n := b.sends[m.UUID]
	b.sends[m.UUID] = n + 1
	s := &send{topic: topic, m: m, done: done, fate: c.decide(m.UUID, n)}
	if len(c.inflight) == 0 {
		c.idle = make(chan struct{})
	}
	c.inflight[s] = struct{}{}
	b.note(Event{What: Sent, Msg: m.UUID, Key: herald.Key(m), Note: fmt.Sprintf("conn=%d fate=%+v", c.id, s.fate)})
	var inline error
	answerNow := false
	switch {
	case s.fate.outcome == unreachable:
		c.answerLater(s, opError("publish to", topic, herald.KindUnreachable, errors.New("simulated: connection refused")))
	case c.down:
		c.queue = append(c.queue, s)
	default:
		inline, answerNow = c.write(s, true)
	}
	s.stop = context.AfterFunc(ctx, func() { c.ctxEnded(s, ctx.Err()) })
	b.mu.Unlock()
	if answerNow {
		c.answer(s, inline)
	}
	return nil
}

// write writes s to the broker: its message is stored or not by its
// fate, and its answer scheduled. With mayInline, an answer due now may
// be returned for the caller to give before Send returns; b.mu is held.
func (c *conn) write(s *send, mayInline bool) (error, bool) {
	b := c.b
	s.written = true
	var err error
	switch s.fate.outcome {
	case acked, unknownStored, holeStored:
		b.store(s.topic, s.m)
		b.note(Event{What: Written, Msg: s.m.UUID, Key: herald.Key(s.m), Note: "stored"})
	default:
		b.note(Event{What: Written, Msg: s.m.UUID, Key: herald.Key(s.m), Note: "not stored"})
	}
	switch s.fate.outcome {
	case holeStored, holeLost:
		return nil, false
	case unknownStored, unknownLost:
		err = opError("publish to", s.topic, herald.KindOutcomeUnknown, errors.New("simulated: connection lost before the answer"))
	case rejected:
		err = opError("publish to", s.topic, s.fate.kind, errors.New("simulated: refused by the broker"))
	}
	if mayInline && s.fate.inline && s.fate.delay == 0 {
		return err, true
	}
	c.answerLater(s, err)
	return nil, false
}

// answerLater answers s after its delay; b.mu is held.
func (c *conn) answerLater(s *send, err error) {
	c.b.after(s.fate.delay, func() { c.answer(s, err) })
}

// answer calls s.done with err, unless s was answered already.
func (c *conn) answer(s *send, err error) {
	b := c.b
	b.mu.Lock()
	if s.answered {
		b.mu.Unlock()
		return
	}
	s.answered = true
	delete(c.inflight, s)
	if len(c.inflight) == 0 {
		close(c.idle)
	}
	b.mu.Unlock()
	if s.stop != nil {
		s.stop()
	}
	b.note(Event{What: Answered, Msg: s.m.UUID, Key: herald.Key(s.m), Err: err})
	s.done(err)
}

// ctxEnded fails s when its ctx ended before its answer: unwritten,
// KindUnreachable (it is taken out of the queue); written, the outcome is
// unknown.
func (c *conn) ctxEnded(s *send, cause error) {
	b := c.b
	b.mu.Lock()
	if s.answered {
		b.mu.Unlock()
		return
	}
	kind := herald.KindOutcomeUnknown
	if !s.written {
		kind = herald.KindUnreachable
		c.unqueue(s)
	}
	b.mu.Unlock()
	c.answer(s, opError("publish to", s.topic, kind, fmt.Errorf("no answer before the context ended: %w", cause)))
}

// unqueue removes s from the queue; b.mu is held.
func (c *conn) unqueue(s *send) {
	for i, q := range c.queue {
		if q == s {
			c.queue = append(c.queue[:i], c.queue[i+1:]...)
			return
		}
	}
}

// scheduleOutage plans the connection's next outage; b.mu is held.
func (c *conn) scheduleOutage() {
	p := c.b.plan
	if p.OutageEvery <= 0 || c.b.calm || c.closed {
		return
	}
	r := Rand(c.b.seed, "outage", c.id, c.outages)
	c.outages++
	c.b.after(upTo(r, 2*p.OutageEvery), func() { c.outage(r) })
}

// outage takes the connection down for a while.
func (c *conn) outage(r *rand.Rand) {
	b := c.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if c.closed || b.calm || c.down {
		return
	}
	c.down = true
	d := upTo(r, b.plan.OutageMax)
	b.note(Event{What: Outage, Note: fmt.Sprintf("conn=%d for %v", c.id, d)})
	b.after(d, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		c.reconnect()
		c.scheduleOutage()
	})
}

// reconnect ends an outage: the queued messages are written in order;
// b.mu is held.
func (c *conn) reconnect() {
	if !c.down {
		return
	}
	c.down = false
	q := c.queue
	c.queue = nil
	for _, s := range q {
		if !s.answered {
			c.write(s, false)
		}
	}
}

// Close implements adapters.Topic: it waits within ctx for the answers
// of the messages taken, then fails the rest: KindClosed when unwritten,
// KindOutcomeUnknown when written.
func (c *conn) Close(ctx context.Context) error {
	b := c.b
	b.mu.Lock()
	if c.closed {
		b.mu.Unlock()
		return nil
	}
	c.closed = true
	delete(b.conns, c)
	idle := c.idle
	b.mu.Unlock()
	select {
	case <-idle:
	case <-ctx.Done():
	}
	b.mu.Lock()
	var rest []*send
	for s := range c.inflight {
		rest = append(rest, s)
	}
	c.queue = nil
	b.mu.Unlock()
	for _, s := range rest {
		kind := herald.KindClosed
		if s.written {
			kind = herald.KindOutcomeUnknown
		}
		c.answer(s, opError("publish to", s.topic, kind, errors.New("simulated: topic closed before the answer")))
	}
	return nil
}

// As implements adapters.Topic: a **Broker target receives the broker.
func (c *conn) As(target any) bool {
	if t, ok := target.(**Broker); ok {
		*t = c.b
		return true
	}
	return false
}
