package heraldtest

import (
	"slices"
	"sync"
	"time"

	"github.com/heraldkit/herald"
)

// bus is a harness's in-memory broker. One mutex guards all of it, so that
// what Drain counts (messages queued, held for redelivery, handed to a
// subscriber and not settled, taken by an outage) is read in one consistent
// state: a message moves from one place to the next under the lock and is
// never in none of them while work on it remains.
type bus struct {
	name  string
	clock *Clock

	reportMu sync.Mutex // held by Down and Up while they report to the streams
	mu       sync.Mutex
	closed   bool
	changed  chan struct{} // closed and replaced at every change
	topics   map[string]map[string]*group

	down      bool
	downCause error
	downTimer *Timer // ends a DownFor outage
	downUntil time.Time

	sends  int // Sends so far, for faults
	faults []*publishFault

	rec records
}

func newBus(name string, clock *Clock) *bus {
	return &bus{name: name, clock: clock, changed: make(chan struct{}),
		topics: map[string]map[string]*group{}, rec: newRecords()}
}

// notify wakes every waiter (streams, Drain); b.mu is held.
func (b *bus) notify() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// group is one consumer group's queue on one topic. Messages of one
// non-empty key are handed out one at a time: the next waits until the
// one before is settled (acked) or back in the queue, so a group keeps
// per-key order across its members and across redeliveries.
type group struct {
	topic   string
	name    string // "" for a private subscriber's group
	private bool

	q       []*entry            // FIFO; q[0] is next
	held    map[*entry]*Timer   // nacked with a delay, waiting on the clock
	locked  map[string]struct{} // keys with an entry handed out or held
	members map[*stream]struct{}
}

// entry is one message in one group.
type entry struct {
	msg      *herald.Message // the group's copy; each delivery gets a copy of it
	key      string
	attempts int  // deliveries so far
	dead     bool // a dead-lettered copy was published during its delivery
}

func newGroup(topic, name string, private bool) *group {
	return &group{topic: topic, name: name, private: private, held: map[*entry]*Timer{},
		locked: map[string]struct{}{}, members: map[*stream]struct{}{}}
}

// groupFor returns the named group of topic, creating it; b.mu is held.
// A named group lives as long as the bus.
func (b *bus) groupFor(topic, name string) *group {
	gs := b.topics[topic]
	if gs == nil {
		gs = map[string]*group{}
		b.topics[topic] = gs
	}
	g := gs[name]
	if g == nil {
		g = newGroup(topic, name, false)
		gs[name] = g
	}
	return g
}

// privateGroup adds a group of its own for a subscriber without a group;
// b.mu is held. It ends with its stream.
func (b *bus) privateGroup(topic string) (*group, string) {
	gs := b.topics[topic]
	if gs == nil {
		gs = map[string]*group{}
		b.topics[topic] = gs
	}
	key := "\x00private:" + herald.NewID() // never a user's group name
	g := newGroup(topic, "", true)
	gs[key] = g
	return g, key
}

// put queues m for every group of topic; b.mu is held.
func (b *bus) put(topic string, m *herald.Message) {
	for _, g := range b.topics[topic] {
		g.q = append(g.q, &entry{msg: clone(m), key: herald.Key(m)})
	}
	b.notify()
}

// take removes up to n entries from g's queue whose keys are free and
// locks their keys; b.mu is held.
func (g *group) take(n int) []*entry {
	var out []*entry
	keep := g.q[:0]
	for _, e := range g.q {
		if len(out) < n && !g.isLocked(e.key) {
			if e.key != "" {
				g.locked[e.key] = struct{}{}
			}
			out = append(out, e)
			continue
		}
		keep = append(keep, e)
	}
	clear(g.q[len(keep):])
	g.q = keep
	return out
}

func (g *group) isLocked(key string) bool {
	if key == "" {
		return false
	}
	_, ok := g.locked[key]
	return ok
}

// runnable reports whether g's queue has an entry a member could take
// now; b.mu is held.
func (g *group) runnable() bool {
	if len(g.members) == 0 {
		return false
	}
	for _, e := range g.q {
		if !g.isLocked(e.key) {
			return true
		}
	}
	return false
}

// requeue puts es back at the head of g's queue, in order, and frees
// their keys; b.mu is held.
func (g *group) requeue(es ...*entry) {
	if len(es) == 0 {
		return
	}
	for _, e := range es {
		delete(g.locked, e.key)
	}
	g.q = append(slices.Clone(es), g.q...)
}

// hold keeps e for delay on the clock, its key locked, then requeues it;
// b.mu is held.
func (b *bus) hold(g *group, e *entry, delay time.Duration) {
	g.held[e] = b.clock.AfterFunc(delay, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if _, ok := g.held[e]; !ok {
			return // its group ended
		}
		delete(g.held, e)
		g.requeue(e)
		b.notify()
	})
}

// dropGroup removes a private group with what it holds; b.mu is held.
func (b *bus) dropGroup(g *group, key string) {
	for _, t := range g.held {
		t.Stop()
	}
	clear(g.held)
	g.q = nil
	delete(b.topics[g.topic], key)
	b.notify()
}
