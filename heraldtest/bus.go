package heraldtest

import (
	"container/heap"
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
	seq      uint64        // entries made
	changed  chan struct{} // closed and replaced at every change
	topics   map[string]map[string]*group

	down      bool
	downCause error
	downTimer *Timer // ends a DownFor outage
	downUntil time.Time

	sends  int // Sends so far, for faults
	faults []*publishFault

	schedule scheduleHeap // delayed messages waiting for their time
	schedSeq uint64
	inboxes  map[string]*requester // by reply address

	rec records
}

func newBus(name string, clock *Clock) *bus {
	return &bus{name: name, clock: clock, changed: make(chan struct{}),
		topics: map[string]map[string]*group{}, inboxes: map[string]*requester{}, rec: newRecords()}
}

// notify wakes every waiter (streams, Drain); b.mu is held.
func (b *bus) notify() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// group is one consumer group's queue on one topic. Messages of one
// non-empty key are handed out one at a time: the next waits until the
// one before is acked, so a group keeps per-key order across its members
// and across redeliveries. Of each key, one entry is active (ready,
// handed out or held) and the later ones wait in line behind it; ready
// entries go out in publish order.
type group struct {
	topic   string
	name    string // "" for a private subscriber's group
	private bool

	ready   entryHeap           // deliverable now, by publish order
	waiting map[string][]*entry // per key, behind its active entry, in publish order
	active  map[string]struct{} // keys with an entry ready, handed out or held
	held    map[*entry]*Timer   // nacked with a delay, waiting on the clock
	members map[*stream]struct{}
}

// entry is one message in one group.
type entry struct {
	msg      *herald.Message // the group's copy; each delivery gets a copy of it
	key      string
	seq      uint64 // publish order on the bus
	attempts int    // deliveries so far
	dead     bool   // a dead-lettered copy was published during its delivery
	index    int    // in group.ready; -1 when not there
}

func newGroup(topic, name string, private bool) *group {
	return &group{topic: topic, name: name, private: private, waiting: map[string][]*entry{},
		active: map[string]struct{}{}, held: map[*entry]*Timer{}, members: map[*stream]struct{}{}}
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
		b.seq++
		g.add(&entry{msg: clone(m), key: herald.Key(m), seq: b.seq, index: -1})
	}
	b.notify()
}

// add queues a new entry: ready, or in line behind the active entry of
// its key; b.mu is held.
func (g *group) add(e *entry) {
	if e.key != "" {
		if _, busy := g.active[e.key]; busy {
			g.waiting[e.key] = append(g.waiting[e.key], e)
			return
		}
		g.active[e.key] = struct{}{}
	}
	heap.Push(&g.ready, e)
}

// take removes up to n ready entries, oldest first; they stay active
// (handed out); b.mu is held.
func (g *group) take(n int) []*entry {
	var out []*entry
	for len(out) < n && len(g.ready) > 0 {
		out = append(out, heap.Pop(&g.ready).(*entry))
	}
	return out
}

// done ends e's turn (acked): the next of its key becomes ready; b.mu is
// held.
func (g *group) done(e *entry) {
	if e.key == "" {
		return
	}
	line := g.waiting[e.key]
	if len(line) == 0 {
		delete(g.active, e.key)
		delete(g.waiting, e.key)
		return
	}
	next := line[0]
	line[0] = nil
	g.waiting[e.key] = line[1:]
	heap.Push(&g.ready, next)
}

// runnable reports whether a member of g could take an entry now; b.mu
// is held.
func (g *group) runnable() bool { return len(g.members) > 0 && len(g.ready) > 0 }

// queued is how many entries wait to be handed out (ready or in line);
// b.mu is held.
func (g *group) queued() int {
	n := len(g.ready)
	for _, line := range g.waiting {
		n += len(line)
	}
	return n
}

// requeue makes handed-out or held entries ready again, in their publish
// order (so before the later messages of their keys); b.mu is held.
func (g *group) requeue(es ...*entry) {
	for _, e := range es {
		heap.Push(&g.ready, e)
	}
}

// hold keeps e for delay on the clock (its key stays active), then
// requeues it;
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
	g.ready, g.waiting = nil, nil
	delete(b.topics[g.topic], key)
	b.notify()
}

// entryHeap orders entries by publish order.
type entryHeap []*entry

func (h entryHeap) Len() int           { return len(h) }
func (h entryHeap) Less(i, j int) bool { return h[i].seq < h[j].seq }
func (h entryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *entryHeap) Push(x any) {
	e := x.(*entry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *entryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	e.index = -1
	*h = old[:len(old)-1]
	return e
}
