package sim

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldkit/herald"
)

// DeliveryHeader is the metadata header in which each delivered message
// carries its delivery number (Event.Del), so that a handler can name the
// delivery it handles.
const DeliveryHeader = "sim-delivery"

var brokerCount atomic.Uint64

// Broker is one simulated broker: its topics' logs, groups and streams,
// its plan and its trace. Make it inside the synctest bubble that uses
// it (its timers and channels belong to the bubble).
type Broker struct {
	name  string
	seed  uint64
	plan  Plan
	trace *Trace

	mu       sync.Mutex
	calm     bool
	closed   bool
	topics   map[string]*topicLog
	nextDel  uint64
	nextStr  int
	nextConn int
	nextSub  int
	onStatus func(sub int, err error)
	sends    map[string]int // sends per message ID, for keyed decisions
	conns    map[*conn]struct{}
	timers   map[*time.Timer]struct{}
	changed  chan struct{} // closed and replaced on every settlement
}

// New makes a broker for seed with plan (see Draw).
func New(seed uint64, plan Plan) *Broker {
	return &Broker{
		name:    fmt.Sprintf("b%d", brokerCount.Add(1)),
		seed:    seed,
		plan:    plan,
		trace:   NewTrace(),
		topics:  map[string]*topicLog{},
		sends:   map[string]int{},
		conns:   map[*conn]struct{}{},
		timers:  map[*time.Timer]struct{}{},
		changed: make(chan struct{}),
	}
}

// Name is the broker's name, the host of its configuration.
func (b *Broker) Name() string { return b.name }

// Plan is the broker's plan.
func (b *Broker) Plan() Plan { return b.plan }

// Trace is the broker's trace.
func (b *Broker) Trace() *Trace { return b.trace }

// Calm stops the faults: from now on sends are written and answered at
// once, acks reach the broker at once, and streams neither break nor lose
// deliveries. Outages under way end now.
func (b *Broker) Calm() {
	b.mu.Lock()
	b.calm = true
	var up []*stream
	for _, t := range b.topics {
		for _, g := range t.groups {
			for _, st := range g.streams {
				if st.down {
					st.down = false
					up = append(up, st)
				}
				st.kick()
			}
		}
	}
	for c := range b.conns {
		c.reconnect()
	}
	b.mu.Unlock()
	for _, st := range up {
		st.report(nil)
	}
}

// Subscriptions is how many subscriptions were opened on the broker; the
// last one's number (Event notes say subscription=N).
func (b *Broker) Subscriptions() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.nextSub
}

// OnStatus makes f be called each time a stream of subscription sub
// called StreamOptions.Status with err, once Status returned.
func (b *Broker) OnStatus(f func(sub int, err error)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.onStatus = f
}

// Close stops the broker's timers. Streams and topics still open stay
// usable but get no more faults or delayed events.
func (b *Broker) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for t := range b.timers {
		t.Stop()
	}
	clear(b.timers)
}

// after runs f after d unless the broker is closed first; b.mu is held.
func (b *Broker) after(d time.Duration, f func()) {
	if b.closed {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		b.mu.Lock()
		_, live := b.timers[t]
		delete(b.timers, t)
		b.mu.Unlock()
		if live {
			f()
		}
	})
	b.timers[t] = struct{}{}
}

// note adds an event to the trace.
func (b *Broker) note(e Event) { b.trace.Add(e) }

// violation records a use of the driver the contract forbids.
func (b *Broker) violation(format string, args ...any) {
	b.note(Event{What: Violation, Note: fmt.Sprintf(format, args...)})
}

// signal wakes WaitSettled callers; b.mu is held.
func (b *Broker) signal() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// topicLog is one topic: its stored messages and its groups.
type topicLog struct {
	name   string
	log    []*stored
	groups map[string]*group
}

// stored is a message in a topic's log.
type stored struct {
	pos int
	msg *herald.Message // the broker's copy
	key string
}

// topic returns the topic named name, creating it; b.mu is held.
func (b *Broker) topic(name string) *topicLog {
	t, ok := b.topics[name]
	if !ok {
		t = &topicLog{name: name, groups: map[string]*group{}}
		b.topics[name] = t
	}
	return t
}

// store appends a copy of m to topic's log and hands it to its groups;
// b.mu is held.
func (b *Broker) store(topic string, m *herald.Message) *stored {
	t := b.topic(topic)
	c := m.Copy()
	s := &stored{pos: len(t.log), msg: c, key: herald.Key(c)}
	t.log = append(t.log, s)
	for _, g := range t.groups {
		g.add(s)
	}
	return s
}

// StoredMsg is a message in a topic's log, in log order.
type StoredMsg struct {
	Pos int
	ID  string
	Key string
}

// Stored returns topic's log.
func (b *Broker) Stored(topic string) []StoredMsg {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.topics[topic]
	if !ok {
		return nil
	}
	out := make([]StoredMsg, len(t.log))
	for i, s := range t.log {
		out[i] = StoredMsg{Pos: s.pos, ID: s.msg.UUID, Key: s.key}
	}
	return out
}

// Unacked returns the IDs of the messages of topic that group has not
// acked yet (nil for an unknown group).
func (b *Broker) Unacked(topic, group string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.topics[topic]
	if !ok {
		return nil
	}
	g, ok := t.groups[group]
	if !ok {
		return nil
	}
	var ids []string
	for _, e := range g.entries {
		if !e.acked {
			ids = append(ids, e.s.msg.UUID)
		}
	}
	return ids
}

// WaitSettled blocks until group has acked every message of topic, or
// ctx ends (it returns ctx.Err()).
func (b *Broker) WaitSettled(ctx context.Context, topic, group string) error {
	for {
		b.mu.Lock()
		left := 0
		if t, ok := b.topics[topic]; ok {
			if g, ok := t.groups[group]; ok {
				left = g.unacked
			}
		}
		ch := b.changed
		b.mu.Unlock()
		if left == 0 {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// OpenStreams returns how many streams are open, for leak checks.
func (b *Broker) OpenStreams() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, t := range b.topics {
		for _, g := range t.groups {
			n += len(g.streams)
		}
	}
	return n
}
