package heraldtest

import (
	"errors"
	"fmt"
	"time"

	"github.com/heraldkit/herald"
)

// publishFault fails one publish.
type publishFault struct {
	topic string // "" for any
	left  int    // matching publishes still to pass before the one that fails
	n     int    // the n given to FailPublish
	kind  herald.Kind
}

func (f *publishFault) what() string {
	if f.topic == "" {
		return "any topic"
	}
	return fmt.Sprintf("%q", f.topic)
}

// FailPublish makes the n-th message published to topic from now (n =
// 1: the next; topic "" for any topic; a Publish of several messages
// counts each) fail with a *herald.Error of kind k, which
// errors.Is matches against k's sentinel (herald.ErrUnreachable, ...). A
// publish failed with herald.KindOutcomeUnknown is stored and delivered
// all the same, as a broker that took a message but whose answer was lost
// would; with any other kind it is not. n < 1, or a kind without a
// sentinel (KindOther), panics. Publishes made while the harness
// is down do not count. A delayed publish (publisher.PublishAt) counts
// and fails as any; so does a request (package request), which is a
// publish to its topic (a reply is not). Several faults may be pending at
// once.
func (h *Harness) FailPublish(topic string, n int, k herald.Kind) {
	if n < 1 {
		panic(fmt.Sprintf("heraldtest: FailPublish(%q, %d, %v): n must be 1 or more", topic, n, k))
	}
	if k.Sentinel() == nil {
		panic(fmt.Sprintf("heraldtest: FailPublish(%q, %d, %v): the kind must have a sentinel: KindUnreachable, KindOutcomeUnknown, KindDenied, KindTooLarge, KindInvalid or KindClosed", topic, n, k))
	}
	b := h.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	b.faults = append(b.faults, &publishFault{topic: topic, left: n, n: n, kind: k})
}

// fault counts a publish to topic against the pending faults and returns
// the one that fails it, if any; b.mu is held.
func (b *bus) fault(topic string) *publishFault {
	var hit *publishFault
	keep := b.faults[:0]
	for _, f := range b.faults {
		if f.topic == "" || f.topic == topic {
			f.left--
			if f.left == 0 && hit == nil {
				hit = f
				continue
			}
			if f.left <= 0 { // a second fault on the same publish: it fails the next
				f.left = 1
			}
		}
		keep = append(keep, f)
	}
	clear(b.faults[len(keep):])
	b.faults = keep
	return hit
}

// errDown is the cause of the harness's outage errors.
var errDown = errors.New("heraldtest: the backend is down (Harness.Down)")

// Down makes the backend unreachable until Up: publishes fail with
// herald.ErrUnreachable; every subscription reports an outage (the
// subscriber logs it, passes an error wrapping herald.ErrSubscriptionLost
// to its error hook, and Health reports it) and receives nothing; the
// deliveries it holds unsettled are lost as with a dropped connection:
// their acks do nothing and they are delivered again after Up, with their
// attempt count raised. Messages stay queued for their groups.
func (h *Harness) Down() { h.down(time.Time{}) }

// DownFor is Down for d of the harness's clock: the backend is up again
// once the clock reached Now()+d (Advance, or Drain, which jumps to it).
func (h *Harness) DownFor(d time.Duration) { h.down(h.clock.Now().Add(d)) }

func (h *Harness) down(until time.Time) {
	b := h.bus
	b.reportMu.Lock() // outage reports reach the streams in order
	defer b.reportMu.Unlock()
	b.mu.Lock()
	if b.downTimer != nil {
		b.downTimer.Stop()
		b.downTimer = nil
	}
	b.downUntil = until
	if !until.IsZero() {
		b.downTimer = b.clock.AfterFunc(until.Sub(b.clock.Now()), h.Up)
	}
	var report []*stream
	if !b.down {
		b.down, b.downCause = true, errDown
		for _, gs := range b.topics {
			for _, g := range gs {
				for st := range g.members {
					st.lose()
					report = append(report, st)
				}
			}
		}
	}
	b.notify()
	b.mu.Unlock()
	for _, st := range report {
		st.report(b.downCause)
	}
}

// Up ends an outage (Down, DownFor): publishes succeed again and every
// subscription receives again (and reports that it recovered).
func (h *Harness) Up() {
	b := h.bus
	b.reportMu.Lock()
	defer b.reportMu.Unlock()
	b.mu.Lock()
	if b.downTimer != nil {
		b.downTimer.Stop()
		b.downTimer = nil
	}
	b.downUntil = time.Time{}
	var report []*stream
	if b.down {
		b.down = false
		for _, gs := range b.topics {
			for _, g := range gs {
				for st := range g.members {
					report = append(report, st)
				}
			}
		}
	}
	b.notify()
	b.mu.Unlock()
	for _, st := range report {
		st.report(nil)
	}
}
