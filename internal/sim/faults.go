package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// fault is what happens to a stream.
type fault uint8

const (
	faultBreak     fault = iota // Receive fails for good
	faultRevoke                 // a key (OrderKey) or some deliveries go to another consumer
	faultRedeliver              // the broker hands one unsettled delivery out again
	faultStatus                 // the transport reconnects: Status(err), nothing delivered, Status(nil)
)

// scheduleFault plans the stream's next fault; b.mu is held.
func (st *stream) scheduleFault() {
	b := st.b
	p := b.plan
	if p.FaultEvery <= 0 || b.calm || st.closed || st.broken != nil {
		return
	}
	r := Rand(b.seed, "fault", st.id, st.faults)
	st.faults++
	f := faultBreak
	x := r.IntN(p.WBreak + p.WRevoke + p.WRedeliver + p.WStatusOutage)
	for i, w := range []int{p.WBreak, p.WRevoke, p.WRedeliver, p.WStatusOutage} {
		if x < w {
			f = fault(i)
			break
		}
		x -= w
	}
	b.after(upTo(r, 2*p.FaultEvery), func() { st.fault(f, r) })
}

// fault injects f.
func (st *stream) fault(f fault, r *rand.Rand) {
	b := st.b
	b.mu.Lock()
	if st.closed || b.calm || st.broken != nil {
		b.mu.Unlock()
		return
	}
	var report error
	switch f {
	case faultBreak:
		st.broken = opError("receive from", st.topic, herald.KindUnreachable, errors.New("simulated: connection lost"))
		b.note(Event{What: Broke, Stream: st.id})
		st.invalidateAll("stream broke")
		st.kick()
	case faultRevoke:
		st.revoke(r, "revoked")
	case faultRedeliver:
		if b.plan.Caps.Order == adapters.OrderKey {
			st.revoke(r, "redelivered") // one delivery out of its key's order would break OrderKey
			break
		}
		if ds := st.sorted(); len(ds) > 0 {
			st.invalidate(ds[r.IntN(len(ds))], "redelivered")
		}
	case faultStatus:
		if st.down {
			break
		}
		st.down = true
		if r.IntN(2) == 0 {
			st.invalidateAll("transport reconnected")
		}
		report = opError("receive from", st.topic, herald.KindUnreachable, errors.New("simulated: reconnecting"))
		d := upTo(r, b.plan.StatusMax)
		b.note(Event{What: Outage, Stream: st.id, Note: fmt.Sprintf("status outage for %v", d)})
		b.after(d, func() {
			b.mu.Lock()
			up := st.down && !st.closed
			st.down = false
			st.kick()
			b.mu.Unlock()
			if up {
				st.report(nil)
			}
		})
	}
	st.scheduleFault()
	b.mu.Unlock()
	if report != nil {
		st.report(report)
	}
}

// revoke takes deliveries from the stream: with OrderKey one of its keys
// (all its unsettled deliveries), else each unsettled delivery with
// chance 1/2; b.mu is held.
func (st *stream) revoke(r *rand.Rand, why string) {
	ds := st.sorted()
	if st.b.plan.Caps.Order != adapters.OrderKey {
		for _, d := range ds {
			if r.IntN(2) == 0 {
				st.invalidate(d, why)
			}
		}
		return
	}
	var keys []string
	for k, ow := range st.g.owner {
		if ow == st {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return
	}
	slices.Sort(keys)
	k := keys[r.IntN(len(keys))]
	for _, d := range ds {
		if d.e.s.key == k {
			st.invalidate(d, why+" (key "+k+")")
		}
	}
	delete(st.g.owner, k)
}
