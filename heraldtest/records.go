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
	published  map[string][]*publication
	deliveries map[groupKey][]Delivery
	attempts   map[attemptKey]int
	requests   map[string][]*requestRecord
	byToken    map[string]*requestRecord // by correlation token
}

func newRecords() records {
	return records{published: map[string][]*publication{}, deliveries: map[groupKey][]Delivery{}, attempts: map[attemptKey]int{},
		requests: map[string][]*requestRecord{}, byToken: map[string]*requestRecord{}}
}

// publication is one message the harness stored.
type publication struct {
	msg       *herald.Message
	at        time.Time // the clock when stored
	deliverAt time.Time // SendOptions.At; zero for at once
	released  bool      // a delayed message queued at its time
	props     herald.Properties
}

// Publication is one message the harness stored for a topic.
type Publication struct {
	Topic string
	// Msg is a copy of the message as it was published.
	Msg *herald.Message
	// At is the harness clock's time when the harness took it.
	At time.Time
	// DeliverAt is the delivery time of a delayed message
	// (publisher.PublishAt, PublishAfter), zero for one published at
	// once. It is a time on the harness's Clock: AdvanceTo(DeliverAt)
	// delivers it, a tick before does not.
	DeliverAt time.Time
	// Held: a delayed message still held for its delivery time when
	// Publications was called (false once it was queued for the groups).
	Held bool
	// Properties are the broker properties it was published with
	// (publisher.PublishWith).
	Properties herald.Properties
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
// A delayed message is among them from its publish on, before its time
// (Publications has its delivery time), and so is a request
// (request.Request) made on the harness.
func (h *Harness) Published(topic string) []*herald.Message {
	var out []*herald.Message
	for _, p := range h.Publications(topic) {
		out = append(out, p.Msg)
	}
	return out
}

// Publications is Published with when each message was stored and, for
// a delayed message, its delivery time and whether it is still held.
func (h *Harness) Publications(topic string) []Publication {
	b := h.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	ps := b.rec.published[topic]
	out := make([]Publication, len(ps))
	for i, p := range ps {
		out[i] = Publication{Topic: topic, Msg: clone(p.msg), At: p.at, DeliverAt: p.deliverAt,
			Held: !p.deliverAt.IsZero() && !p.released, Properties: p.props}
	}
	return out
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

// clone is a deep copy of m: its own metadata and payload.
func clone(m *herald.Message) *herald.Message {
	c := m.Copy()
	c.Payload = slices.Clone(m.Payload)
	return c
}

// requestRecord is one request made on the harness; guarded by bus.mu.
type requestRecord struct {
	topic     string
	msg       *herald.Message
	at        time.Time
	reply     *herald.Message
	repliedAt time.Time
	replies   int
	err       error
}

// Request is one request made on the harness (request.Request,
// request.RequestMsg, through a request client on the harness's URL),
// with its reply.
type Request struct {
	Topic string
	// Msg is a copy of the request as it was sent: with its reply
	// address (adapters.ReplyToHeader), correlation token
	// (adapters.CorrelationHeader) and deadline (request.DeadlineHeader).
	Msg *herald.Message
	// At is the harness clock's time when it was made.
	At time.Time
	// Reply is a copy of the first reply sent to it, nil while none was;
	// a responder's error is a reply with request.ErrorHeader. A reply
	// sent after the request stopped waiting (its deadline) is here too,
	// although the requester never got it.
	Reply *herald.Message
	// RepliedAt is the harness clock's time of Reply.
	RepliedAt time.Time
	// Replies counts the replies sent to it (more than 1: answered twice,
	// the later ones dropped).
	Replies int
	// Err is what the request ended with without a reply reaching it:
	// a *herald.Error of KindNoResponder, of the publish (a fault, an
	// outage), of KindClosed, or its context's error (the request's
	// deadline: context.DeadlineExceeded). nil while it waits or once a
	// reply reached it.
	Err error
}

// Requests returns the requests made to topic on the harness, in the
// order they were made, with their replies as they stand now.
func (h *Harness) Requests(topic string) []Request {
	b := h.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	rs := b.rec.requests[topic]
	out := make([]Request, len(rs))
	for i, r := range rs {
		out[i] = Request{Topic: r.topic, Msg: clone(r.msg), At: r.at, RepliedAt: r.repliedAt, Replies: r.replies, Err: r.err}
		if r.reply != nil {
			out[i].Reply = clone(r.reply)
		}
	}
	return out
}
