package memory

import (
	"sync"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters/internal/replies"
)

// bus is one named, reference-counted bus: per topic, its groups.
type bus struct {
	name   string
	buffer int

	mu      sync.Mutex
	refs    int
	topics  map[string]map[string]*group // topic -> group name -> group
	inboxes map[string]*replies.Table    // requesters' reply addresses

	delay *scheduler    // delayed messages (SendOptions.At)
	done  chan struct{} // closed when the bus ends
}

var (
	busesMu sync.Mutex
	buses   = map[string]*bus{}
)

// acquire returns the bus named by s, creating it for its first user.
func acquire(s settings) *bus {
	busesMu.Lock()
	defer busesMu.Unlock()
	b := buses[s.name]
	if b == nil {
		b = newBus(s, realClock{})
		buses[s.name] = b
	}
	b.refs++
	return b
}

// newBus is an empty bus on c.
func newBus(s settings, c clock) *bus {
	b := &bus{name: s.name, buffer: s.buffer, topics: map[string]map[string]*group{}, inboxes: map[string]*replies.Table{}, done: make(chan struct{})}
	b.delay = &scheduler{clock: c, deliver: b.deliverDelayed}
	return b
}

// release drops a reference; the last one ends the bus and its messages,
// delayed ones included.
func (b *bus) release() {
	busesMu.Lock()
	defer busesMu.Unlock()
	b.refs--
	if b.refs == 0 {
		if buses[b.name] == b {
			delete(buses, b.name)
		}
		b.delay.stop()
		close(b.done)
	}
}

// group returns the named group of topic, creating it. A group lives as
// long as the bus: messages published while it has no member wait for
// its next member.
func (b *bus) group(topic, name string) *group {
	b.mu.Lock()
	defer b.mu.Unlock()
	gs := b.topics[topic]
	if gs == nil {
		gs = map[string]*group{}
		b.topics[topic] = gs
	}
	g := gs[name]
	if g == nil {
		g = newGroup(b.buffer)
		gs[name] = g
	}
	return g
}

// private adds a group of its own for a subscriber without a group; drop
// removes it.
func (b *bus) private(topic string) (*group, func()) {
	g := newGroup(b.buffer)
	key := "\x00private:" + herald.NewID() // never a user's group name
	b.mu.Lock()
	gs := b.topics[topic]
	if gs == nil {
		gs = map[string]*group{}
		b.topics[topic] = gs
	}
	gs[key] = g
	b.mu.Unlock()
	return g, func() {
		b.mu.Lock()
		delete(b.topics[topic], key)
		b.mu.Unlock()
	}
}

// groups returns topic's groups now.
func (b *bus) groups(topic string) []*group {
	b.mu.Lock()
	defer b.mu.Unlock()
	gs := make([]*group, 0, len(b.topics[topic]))
	for _, g := range b.topics[topic] {
		gs = append(gs, g)
	}
	return gs
}

// addInbox registers a requester's reply address.
func (b *bus) addInbox(name string, t *replies.Table) {
	b.mu.Lock()
	b.inboxes[name] = t
	b.mu.Unlock()
}

// dropInbox removes a reply address.
func (b *bus) dropInbox(name string) {
	b.mu.Lock()
	delete(b.inboxes, name)
	b.mu.Unlock()
}

// inboxTable returns the requests waiting on a reply address, nil for none.
func (b *bus) inboxTable(name string) *replies.Table {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.inboxes[name]
}
