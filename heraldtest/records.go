package heraldtest

import (
	"slices"
	"time"

	"github.com/heraldkit/herald"
)

// Outcome is how a delivery ended.
type Outcome uint8

const (
	// Handled: the handler returned nil and the message was acked.
	Handled Outcome = iota + 1
	// Failed: the handler returned an error; the message is redelivered
	// after Delivery.Delay.
	Failed
	// DeadLettered: a dead-letter middleware (middleware.DeadLetter)
	// published a copy of the message and acked it.
	DeadLettered
)

// String is the outcome's name.
func (o Outcome) String() string {
	switch o {
	case Handled:
		return "handled"
	case Failed:
		return "failed"
	case DeadLettered:
		return "dead-lettered"
	}
	return "unknown"
}

// Delivery is one delivery of a message to a subscriber, settled.
type Delivery struct {
	Topic string
	Group string // "" for a subscriber without a group
	// Msg is a copy of the message as it was published.
	Msg *herald.Message
	// Attempt counts the message's deliveries to the group, 1 for the
	// first; the handler saw it in herald.Delivery.Attempt.
	Attempt int
	Outcome Outcome
	// Delay is the redelivery delay the subscriber asked for (Failed).
	Delay time.Duration
	// At is the harness clock's time at the settlement.
	At time.Time
}

type groupKey struct{ topic, group string }

type attemptKey struct{ topic, group, id string }

// records is what the bus saw; guarded by bus.mu.
type records struct {
	published  map[string][]*herald.Message
	deliveries map[groupKey][]Delivery
	attempts   map[attemptKey]int
}

func newRecords() records {
	return records{published: map[string][]*herald.Message{}, deliveries: map[groupKey][]Delivery{}, attempts: map[attemptKey]int{}}
}

// settled records a settled delivery; bus.mu is held.
func (b *bus) settled(g *group, e *entry, o Outcome, delay time.Duration) {
	k := groupKey{g.topic, g.name}
	b.rec.deliveries[k] = append(b.rec.deliveries[k], Delivery{Topic: g.topic, Group: g.name, Msg: clone(e.msg),
		Attempt: e.attempts, Outcome: o, Delay: delay, At: b.clock.Now()})
}

// Published returns copies of the messages published to topic that the
// harness stored, in the order it took them (a publish it failed is not
// among them, except one failed with herald.KindOutcomeUnknown, which is
// stored). A message published to a topic no group subscribes to is
// among them, although nobody receives it.
func (h *Harness) Published(topic string) []*herald.Message {
	b := h.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	return copies(b.rec.published[topic])
}

// Deliveries returns the settled deliveries of topic to group ("" for
// subscribers without a group), in the order they were settled.
func (h *Harness) Deliveries(topic, group string) []Delivery {
	b := h.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	ds := b.rec.deliveries[groupKey{topic, group}]
	out := make([]Delivery, len(ds))
	for i, d := range ds {
		d.Msg = clone(d.Msg)
		out[i] = d
	}
	return out
}

// Handled returns the messages of topic group handled (acked, not
// dead-lettered), in the order they were acked.
func (h *Harness) Handled(topic, group string) []*herald.Message {
	return h.outcome(topic, group, Handled)
}

// Failed returns the failed deliveries of topic to group (the handler
// returned an error), in order; a message that failed twice is there
// twice, with its Attempt and the redelivery Delay.
func (h *Harness) Failed(topic, group string) []Delivery {
	var out []Delivery
	for _, d := range h.Deliveries(topic, group) {
		if d.Outcome == Failed {
			out = append(out, d)
		}
	}
	return out
}

// DeadLettered returns the messages of topic that group's dead-letter
// middleware parked (the originals; their copies are Published to the
// dead-letter topic), in order.
func (h *Harness) DeadLettered(topic, group string) []*herald.Message {
	return h.outcome(topic, group, DeadLettered)
}

func (h *Harness) outcome(topic, group string, o Outcome) []*herald.Message {
	var out []*herald.Message
	for _, d := range h.Deliveries(topic, group) {
		if d.Outcome == o {
			out = append(out, d.Msg)
		}
	}
	return out
}

// Attempts is how many times the message with ID id was delivered from
// topic to group (0 when never).
func (h *Harness) Attempts(topic, group, id string) int {
	b := h.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rec.attempts[attemptKey{topic, group, id}]
}

func copies(ms []*herald.Message) []*herald.Message {
	out := make([]*herald.Message, len(ms))
	for i, m := range ms {
		out[i] = clone(m)
	}
	return out
}

// clone is a deep copy of m: its own metadata and payload.
func clone(m *herald.Message) *herald.Message {
	c := m.Copy()
	c.Payload = slices.Clone(m.Payload)
	return c
}
