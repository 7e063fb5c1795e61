package heraldtest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Drain returns once nothing is queued, nothing is held for redelivery or
// for its delivery time and no handler runs on the harness: every message
// published so far, delayed ones included, has been handled, dead-lettered
// or dropped (no group), and so has every message those handlers
// published. An assertion that something was NOT published is then exact
// at once: there is no inactivity timeout to wait for, anywhere.
//
// Drain moves the harness's clock: when nothing can happen until the clock
// reaches a redelivery delay, a delayed message's delivery time or the end
// of a DownFor outage, it advances the clock to the earliest one and goes
// on. A message that fails for ever therefore keeps Drain going until ctx
// ends; so does a message queued for a group that has no subscriber
// running, or while the harness is Down without an end. Drain then returns
// an error wrapping ctx's that says what was still pending.
//
// What is counted, under the one lock that every move of a message takes:
// messages queued per group, held for a redelivery delay, held for their
// delivery time (publisher.PublishAt, PublishAfter), handed to a
// subscriber and not settled (a running handler's message is one of these
// until the subscriber acks or nacks it, after the handler returned), and
// deliveries an outage took from a subscriber that may still be handled. A
// publish needs no counter of its own: its message is queued (or held)
// before the publisher's call returns, and a publish made by a handler is
// made while the handler's message is unsettled. A request (package
// request) needs none either: it is a publish, and a handler waiting for
// its reply keeps its own message unsettled until the responder, which
// replies before its message is acked, answered. Not seen: work a service
// starts in goroutines of its own, outside a handler (wait for it in the
// test), and a handler the subscriber detached when its drain timeout
// expired on Close (its message went back to the queue).
func (h *Harness) Drain(ctx context.Context) error {
	b := h.bus
	for {
		b.mu.Lock()
		active, work := b.active(), b.work()
		due, timed := b.nextDue()
		wait := b.changed
		b.mu.Unlock()
		switch {
		case !work:
			return nil
		case !active && timed:
			h.clock.AdvanceTo(due)
			continue
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return h.stuck("Drain", ctx)
		}
	}
}

// Idle returns once nothing can happen on the harness until its clock
// moves: no handler runs and no message can be delivered now (messages
// held for a redelivery delay or for their delivery time, and messages
// waiting behind one of their key, may remain; so may messages of a group that has no subscriber
// running, and all messages while the harness is down). Use it between
// Clock().Advance steps to assert what happened at each time; Drain
// instead runs until everything is done.
func (h *Harness) Idle(ctx context.Context) error {
	b := h.bus
	for {
		b.mu.Lock()
		active := b.active()
		wait := b.changed
		b.mu.Unlock()
		if !active {
			return nil
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return h.stuck("Idle", ctx)
		}
	}
}

// active reports whether something happens without the clock moving: a
// delivery is unsettled or lost to an outage (its handler may run), or a
// group has a message a member can take now; b.mu is held.
func (b *bus) active() bool {
	for _, gs := range b.topics {
		for _, g := range gs {
			for st := range g.members {
				if len(st.unsettled) > 0 || len(st.lost) > 0 {
					return true
				}
			}
			if !b.down && g.runnable() {
				return true
			}
		}
	}
	return false
}

// work reports whether anything is left: active, or a message queued,
// held for redelivery or held for its delivery time; b.mu is held.
func (b *bus) work() bool {
	if b.active() {
		return true
	}
	for _, gs := range b.topics {
		for _, g := range gs {
			if g.queued() > 0 || len(g.held) > 0 {
				return true
			}
		}
	}
	return len(b.schedule) > 0
}

// nextDue is the earliest time the bus waits for on the clock: a held
// message's redelivery, a delayed message's delivery time, the end of a
// DownFor outage; b.mu is held.
func (b *bus) nextDue() (time.Time, bool) {
	var due time.Time
	earlier := func(t time.Time) {
		if due.IsZero() || t.Before(due) {
			due = t
		}
	}
	for _, gs := range b.topics {
		for _, g := range gs {
			for _, t := range g.held {
				earlier(t.when)
			}
		}
	}
	if t, ok := b.nextScheduled(); ok {
		earlier(t)
	}
	if b.down && !b.downUntil.IsZero() {
		earlier(b.downUntil)
	}
	return due, !due.IsZero()
}

// stuck is the error of a Drain or Idle whose ctx ended: what is pending.
func (h *Harness) stuck(op string, ctx context.Context) error {
	b := h.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	var lines []string
	for topic, gs := range b.topics {
		for _, g := range gs {
			name := fmt.Sprintf("topic %q group %q", topic, g.name)
			if g.private {
				name = fmt.Sprintf("topic %q (subscriber without a group)", topic)
			}
			var parts []string
			unsettled, lost := 0, 0
			for st := range g.members {
				unsettled += len(st.unsettled)
				lost += len(st.lost)
			}
			if unsettled > 0 {
				parts = append(parts, fmt.Sprintf("%d handed to a subscriber and not settled (handlers running)", unsettled))
			}
			if lost > 0 {
				parts = append(parts, fmt.Sprintf("%d taken by the outage and maybe still handled", lost))
			}
			if n := g.queued(); n > 0 {
				p := fmt.Sprintf("%d queued", n)
				if len(g.members) == 0 {
					p += " with no subscriber running"
				}
				parts = append(parts, p)
			}
			for e := range g.held {
				parts = append(parts, fmt.Sprintf("message %s held for redelivery after attempt %d", e.msg.UUID, e.attempts))
			}
			if len(parts) > 0 {
				sort.Strings(parts)
				lines = append(lines, name+": "+strings.Join(parts, ", "))
			}
		}
	}
	held := map[string][]*scheduled{}
	for _, s := range b.schedule {
		held[s.topic] = append(held[s.topic], s)
	}
	for topic, ss := range held {
		next := ss[0].at
		for _, s := range ss {
			if s.at.Before(next) {
				next = s.at
			}
		}
		lines = append(lines, fmt.Sprintf("topic %q: %d delayed message(s) held for their delivery time, the next at %s (%v from now on the clock)",
			topic, len(ss), next.Format(time.RFC3339Nano), next.Sub(b.clock.Now())))
	}
	sort.Strings(lines)
	if b.down {
		lines = append(lines, "the harness is down (Down without Up)")
	}
	return fmt.Errorf("heraldtest: %s: %w; still pending at %s: %s", op, ctx.Err(), b.clock.Now().Format(time.RFC3339Nano), strings.Join(lines, "; "))
}
