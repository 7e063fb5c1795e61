package sim_test

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/internal/sim"
)

// check runs every check on a finished run and returns the problems.
func (r *runner) check() []string {
	for _, v := range r.b.Trace().Violations() {
		r.rec.broken("driver contract: %s", v.Note)
	}
	r.checkPublished()
	r.checkFlushes()
	r.checkPublishOrder()
	r.checkConsumed()
	return r.rec.problemList()
}

// stored is the log: message ID -> position.
func (r *runner) stored() map[string]int {
	pos := map[string]int{}
	for _, s := range r.b.Stored(topic) {
		pos[s.ID] = s.Pos
	}
	return pos
}

// checkPublished: every PublishAsync taken has exactly one done, none
// other has any; what the facade reported published is stored (with what
// the middleware added); what it reported never written is not.
func (r *runner) checkPublished() {
	pos := r.stored()
	r.rec.mu.Lock()
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	for _, p := range r.rec.order {
		if !p.returned {
			add("%s %s never returned", p.op, p.id)
			continue
		}
		if c, ok := r.rec.closedAt[p.pub]; ok && p.callSeq > c && !errors.Is(p.err, herald.ErrClosed) {
			add("%s of %s on publisher %d after its Close returned: %v, want ErrClosed", p.op, p.id, p.pub, p.err)
		}
		result := p.err
		if p.op == "async" {
			switch {
			case p.err == nil && p.dones != 1:
				add("PublishAsync of %s returned nil and its done was called %d times", p.id, p.dones)
			case p.err != nil && p.dones != 0:
				add("PublishAsync of %s returned %v and its done was called %d times", p.id, p.err, p.dones)
			}
			result = p.doneErr
			if p.err != nil || p.dones == 0 {
				continue
			}
		}
		_, ok := pos[p.id]
		if result == nil && !p.dropped && !p.late {
			if !ok {
				add("%s of %s succeeded, but it is not stored", p.op, p.id)
			}
			for _, x := range p.extras {
				if _, ok := pos[x]; !ok {
					add("%s of %s succeeded, but %s its middleware added is not stored", p.op, p.id, x)
				}
			}
		}
		if k := herald.KindOf(result); result != nil && p.alone && len(p.extras) == 0 && !p.dropped && ok &&
			(k == herald.KindUnreachable || k == herald.KindClosed) {
			add("%s of %s failed with %v (%v: never written), but it is stored", p.op, p.id, k, result)
		}
	}
	r.rec.mu.Unlock()
	for _, s := range problems {
		r.rec.broken("%s", s)
	}
}

// checkFlushes: a Flush that returned nil returned after the done of
// every PublishAsync on its publisher that returned before it began.
func (r *runner) checkFlushes() {
	r.rec.mu.Lock()
	var problems []string
	for _, f := range r.rec.flushes {
		if f.err != nil || f.endSeq == 0 {
			continue
		}
		for _, p := range r.rec.order {
			if p.op != "async" || p.pub != f.pub || p.err != nil || !p.returned || p.returnSeq > f.startSeq {
				continue
			}
			if p.doneEnd == 0 || p.doneEnd > f.endSeq {
				problems = append(problems, fmt.Sprintf("Flush on publisher %d returned nil (event #%d) before the done of %s returned (event #%d)", f.pub, f.endSeq, p.id, p.doneEnd))
			}
		}
	}
	r.rec.mu.Unlock()
	for _, s := range problems {
		r.rec.broken("%s", s)
	}
}

// checkPublishOrder: the messages one goroutine published with one key
// on one publisher are stored in the order it published them (a
// publisher replaced meanwhile may still be writing its own).
func (r *runner) checkPublishOrder() {
	pos := r.stored()
	type gk struct {
		g, pub int
		key    string
	}
	last := map[gk]*pubRec{}
	r.rec.mu.Lock()
	var problems []string
	for _, p := range r.rec.order {
		at, ok := pos[p.id]
		if !ok || p.key == "" || p.late {
			continue
		}
		k := gk{p.g, p.pub, p.key}
		if l := last[k]; l != nil && pos[l.id] > at {
			problems = append(problems, fmt.Sprintf("publish order: %s (key %s) is stored at %d, before %s at %d which g%d published first", p.id, p.key, at, l.id, pos[l.id], p.g))
		}
		last[k] = p
	}
	r.rec.mu.Unlock()
	for _, s := range problems {
		r.rec.broken("%s", s)
	}
}

// delState is a delivery as the trace replay sees it.
type delState struct {
	ev        sim.Event // the Delivered event
	invalidAt time.Duration
	invalid   int // Seq of the Invalid event, 0 while valid
	okSeq     int // Seq of the last successful handler return
	failSeq   int // Seq of the last failed handler return
	ackSeq    int
	nackSeq   int
	started   bool
	handles   int // handler invocations of this delivery
	lastStart int // Seq of the last handler start
	failAt    time.Duration
	failDelay time.Duration // the least redelivery delay after the last failure
}

// leastDelay is the least redelivery delay after the failure e of d
// (subscriber/redeliver.go): RetryAfter's, or base·2^(attempt-1) with the
// base of a permanent error or of any other.
func (r *runner) leastDelay(e sim.Event, d *delState) time.Duration {
	if s, ok := strings.CutPrefix(e.Note, "retry-after="); ok {
		delay, _ := time.ParseDuration(s)
		return delay
	}
	r.rec.mu.Lock()
	attempt := r.rec.attempts[d.lastStart]
	r.rec.mu.Unlock()
	base, ceiling := 100*time.Millisecond, 10*time.Second
	if e.Note == "permanent" {
		base, ceiling = time.Second, 5*time.Minute
	}
	delay := base
	for i := 1; i < attempt && delay < ceiling; i++ {
		delay *= 2
	}
	return min(delay, ceiling)
}

// checkAttempt checks the Attempt a handler of d saw (event e): with
// CountsAttempts it is the broker's count of deliveries, plus this
// subscriber's own redeliveries of d under RedeliverLocal; without, under
// RedeliverLocal, it counts the handlings of d.
func (r *runner) checkAttempt(e sim.Event, d *delState) {
	r.rec.mu.Lock()
	got := r.rec.attempts[e.Seq]
	r.rec.mu.Unlock()
	var pos, count int
	fmt.Sscanf(d.ev.Note, "pos=%d delivery=%d", &pos, &count)
	caps := r.plan.Caps
	want := 0
	switch {
	case caps.CountsAttempts && caps.Redelivery == adapters.RedeliverBroker:
		want = count
	case caps.CountsAttempts:
		want = count + d.handles - 1
	case caps.Redelivery == adapters.RedeliverLocal:
		want = d.handles
	}
	if want != 0 && got != want {
		r.rec.broken("%s: delivery %d (the broker's delivery %d of it, handled %d times here) got Attempt %d, want %d (#%d)", e.Msg, d.ev.Del, count, d.handles, got, want, e.Seq)
	}
}

// checkConsumed replays the trace: nothing acked before its handler
// returned nil; no handler started after its delivery turned invalid;
// with OrderKey, a delivery of a key starts only once the earlier
// deliveries of its key on its stream are settled (acked, nacked or, by
// the broker's redelivery, failed) or invalid; on every backend a key's
// deliveries start in the order their stream handed them out (a
// redelivery is a new delivery); Attempt and the redelivery delays
// are as documented; streams open with the window asked for; and
// everything stored was acked in the end.
func (r *runner) checkConsumed() {
	caps := r.plan.Caps
	dels := map[uint64]*delState{}
	type sk struct {
		stream int
		key    string
	}
	byKey := map[sk][]*delState{}
	lastFirst := map[sk]uint64{} // the last delivery of a key on a stream started for the first time
	for _, e := range r.b.Trace().Events() {
		switch e.What {
		case sim.Delivered:
			d := &delState{ev: e}
			dels[e.Del] = d
			if e.Key != "" {
				byKey[sk{e.Stream, e.Key}] = append(byKey[sk{e.Stream, e.Key}], d)
			}
		case sim.Invalid:
			if d := dels[e.Del]; d != nil && d.invalid == 0 {
				d.invalid, d.invalidAt = e.Seq, e.At
			}
		case evHandle:
			d := dels[e.Del]
			if d == nil {
				r.rec.broken("handler of %s got delivery %d, which the driver never made (#%d)", e.Msg, e.Del, e.Seq)
				continue
			}
			if d.ev.Msg != e.Msg {
				r.rec.broken("handler got %s with the header of delivery %d of %s (#%d)", e.Msg, e.Del, d.ev.Msg, e.Seq)
			}
			if d.invalid != 0 && e.At > d.invalidAt {
				r.rec.broken("%s: delivery %d handled at %v, after its token turned invalid at %v (#%d, #%d)", e.Msg, e.Del, e.At, d.invalidAt, d.invalid, e.Seq)
			}
			if d.failSeq != 0 && d.failSeq > d.okSeq && e.At < d.failAt+d.failDelay-tolerance {
				r.rec.broken("%s: delivery %d handled again %v after it failed, before its redelivery delay %v (#%d)", e.Msg, e.Del, e.At-d.failAt, d.failDelay, e.Seq)
			}
			if k := (sk{d.ev.Stream, d.ev.Key}); !d.started && d.ev.Key != "" {
				if l := lastFirst[k]; l > e.Del {
					r.rec.broken("key order: %s (delivery %d, key %s) started after delivery %d of its key, which stream %d handed out later (#%d)", e.Msg, e.Del, k.key, l, k.stream, e.Seq)
				}
				lastFirst[k] = e.Del
			}
			d.started = true
			d.lastStart = e.Seq
			d.handles++
			r.checkAttempt(e, d)
			if caps.Order != adapters.OrderKey || d.ev.Key == "" {
				continue
			}
			for _, o := range byKey[sk{d.ev.Stream, d.ev.Key}] {
				if o == d {
					break
				}
				settled := o.ackSeq != 0 || o.nackSeq != 0 || (o.invalid != 0 && o.invalidAt <= e.At) ||
					(caps.Redelivery == adapters.RedeliverBroker && o.failSeq != 0)
				if !settled {
					r.rec.broken("key order: %s (delivery %d, key %s) started while %s (delivery %d), delivered before it on stream %d, was not settled (#%d)",
						e.Msg, e.Del, d.ev.Key, o.ev.Msg, o.ev.Del, d.ev.Stream, e.Seq)
					break
				}
			}
		case evHandled:
			if d := dels[e.Del]; d != nil {
				if e.Err == nil {
					d.okSeq = e.Seq
				} else {
					d.failSeq, d.failAt, d.failDelay = e.Seq, e.At, r.leastDelay(e, d)
				}
			}
		case sim.AckCalled:
			d := dels[e.Del]
			if d == nil {
				continue
			}
			if d.okSeq == 0 {
				r.rec.broken("%s: delivery %d acked (#%d) but no handler of it returned nil before", e.Msg, e.Del, e.Seq)
			}
			d.ackSeq = e.Seq
		case sim.NackCalled:
			if d := dels[e.Del]; d != nil {
				d.nackSeq = e.Seq
				if d.failSeq == 0 {
					r.rec.broken("%s: delivery %d nacked (#%d) but no handler of it failed", e.Msg, e.Del, e.Seq)
					continue
				}
				if d.invalid != 0 {
					// A Nack of a delivery turned invalid (its stream broke,
					// it was revoked or redelivered) does nothing: the broker
					// has the message back already, and its delay is moot.
					// (Seen: seed 714655492, a stuck handler's late failure
					// after another delivery of its message succeeded.)
					continue
				}
				delay, _ := time.ParseDuration(strings.TrimPrefix(e.Note, "delay="))
				if caps.NackDelay {
					if delay < d.failDelay {
						r.rec.broken("%s: delivery %d nacked with delay %v, less than its redelivery delay %v (#%d)", e.Msg, e.Del, delay, d.failDelay, e.Seq)
					}
				} else if e.At < d.failAt+d.failDelay-tolerance {
					r.rec.broken("%s: delivery %d nacked %v after it failed, before its redelivery delay %v (#%d)", e.Msg, e.Del, e.At-d.failAt, d.failDelay, e.Seq)
				}
			}
		case sim.Opened:
			want := r.sc.window
			if want == 0 {
				want = caps.DefaultWindow
			}
			if caps.MaxWindow > 0 {
				want = min(want, caps.MaxWindow)
			}
			var g string
			var got int
			if e.Err == nil {
				fmt.Sscanf(e.Note, "group=%s window=%d", &g, &got) // group is one word
				if got != want {
					r.rec.broken("stream %d opened with window %d, want %d (#%d)", e.Stream, got, want, e.Seq)
				}
			}
		}
	}
	if left := r.b.Unacked(topic, group); len(left) > 0 {
		r.rec.broken("not acked in the end: %v", left)
	}
}

var bubbleRE = regexp.MustCompile(`^goroutine (\d+) \[[^\]]*synctest bubble (\d+)\]`)

// leaks returns the stacks of the goroutines of the calling goroutine's
// bubble other than itself and synctest's own.
func leaks() []string {
	me := make([]byte, 256)
	me = me[:runtime.Stack(me, false)]
	m := bubbleRE.FindSubmatch(me)
	if m == nil {
		return nil
	}
	self, bubble := string(m[1]), string(m[2])
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		h := bubbleRE.FindSubmatch(g)
		if h == nil || string(h[2]) != bubble || string(h[1]) == self {
			continue
		}
		s := string(g)
		if strings.Contains(s, "internal/synctest.Run(") || strings.Contains(s, "testing/synctest.testingSynctestTest(") {
			continue
		}
		out = append(out, s)
	}
	return out
}
