package sim

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"time"

	"github.com/heraldkit/herald/adapters"
)

// Plan is what a simulated broker declares and which faults it injects
// how often. Draw makes one from a seed; the zero Plan (with Caps set) is
// a broker without faults.
type Plan struct {
	// Caps is what the driver declares.
	Caps adapters.Capabilities

	// AnswerDelay is the longest delay of a publish answer (each is drawn
	// from 0 to it, so answers of different messages come in any order).
	AnswerDelay time.Duration
	// InlineAnswers: an answer drawn with no delay is given by calling
	// done before Send returns (the contract allows any goroutine).
	InlineAnswers bool
	// Chances, per message sent, of each failure: written and stored but
	// answered with KindOutcomeUnknown; written and not stored, answered
	// with KindOutcomeUnknown; never written, KindUnreachable; refused by
	// the broker (KindTooLarge, KindDenied or KindInvalid); written and
	// never answered (until the send's ctx ends or Close), stored or not.
	PUnknownStored, PUnknownLost, PUnreachable, PRejected, PBlackhole float64
	// OutageEvery is the mean time between publish outages (0: none), and
	// OutageMax the longest: while a topic's connection is down, messages
	// sent wait for it, unwritten, until their ctx ends.
	OutageEvery, OutageMax time.Duration

	// PAckDelay is the chance that an ack reaches the broker only after
	// a delay of up to AckDelay (a stream that breaks meanwhile loses it).
	PAckDelay float64
	AckDelay  time.Duration
	// FaultEvery is the mean time between faults of a stream (0: none);
	// each is a break, a revoke, a redelivery or a status outage, by the
	// weights below. StatusMax is the longest status outage (Receive
	// delivers nothing meanwhile).
	FaultEvery                                 time.Duration
	WBreak, WRevoke, WRedeliver, WStatusOutage int
	StatusMax                                  time.Duration
	// POpenFail is the chance that opening a stream fails (unreachable).
	POpenFail float64
}

// Draw makes the plan of seed: capabilities and fault rates. The same
// seed gives the same plan.
func Draw(seed uint64) Plan {
	r := Rand(seed, "plan")
	p := Plan{}
	p.Caps = adapters.Capabilities{
		Durable:        true,
		Groups:         true,
		Redelivery:     adapters.Redelivery(r.IntN(2)),
		CountsAttempts: r.IntN(2) == 0,
		Order:          adapters.OrderScope(r.IntN(3)),
		MaxMessageSize: 1 << 20,
		DefaultWindow:  []int{1, 2, 4, 16, 64}[r.IntN(5)],
		SingleProcess:  true,
	}
	if p.Caps.Redelivery == adapters.RedeliverBroker {
		p.Caps.NackDelay = r.IntN(2) == 0
	}
	p.Caps.MaxWindow = []int{0, 0, 1, 3}[Rand(seed, "max window").IntN(4)] // keyed apart: the draws above stay
	if r.IntN(4) == 0 {                                                    // a quarter of the runs: the faultless broker
		return p
	}
	p.AnswerDelay = time.Duration(r.IntN(200)) * time.Millisecond
	p.InlineAnswers = r.IntN(3) == 0
	p.PUnknownStored = pick(r, 0, 0.02, 0.1)
	p.PUnknownLost = pick(r, 0, 0.02, 0.1)
	p.PUnreachable = pick(r, 0, 0.02, 0.1)
	p.PRejected = pick(r, 0, 0.01, 0.05)
	p.PBlackhole = pick(r, 0, 0.01, 0.05)
	if r.IntN(3) == 0 {
		p.OutageEvery = time.Duration(1+r.IntN(10)) * time.Second
		p.OutageMax = time.Duration(100+r.IntN(5000)) * time.Millisecond
	}
	p.PAckDelay = pick(r, 0, 0.1, 0.5)
	p.AckDelay = time.Duration(1+r.IntN(500)) * time.Millisecond
	if r.IntN(4) != 0 {
		p.FaultEvery = time.Duration(20+r.IntN(2000)) * time.Millisecond
		p.WBreak, p.WRevoke, p.WRedeliver, p.WStatusOutage = r.IntN(3), r.IntN(3), r.IntN(3), r.IntN(3)
		if p.WBreak+p.WRevoke+p.WRedeliver+p.WStatusOutage == 0 {
			p.WBreak = 1
		}
		p.StatusMax = time.Duration(1+r.IntN(3000)) * time.Millisecond
	}
	p.POpenFail = pick(r, 0, 0.1, 0.3)
	return p
}

// String sums the plan up on one line.
func (p Plan) String() string {
	c := p.Caps
	red := "local"
	if c.Redelivery == adapters.RedeliverBroker {
		red = "broker"
	}
	order := [...]string{"none", "key", "queue"}[c.Order]
	return fmt.Sprintf("caps{redelivery=%s nackdelay=%v counts=%v order=%s window=%d max=%d} "+
		"send{delay<=%v inline=%v unknown=%.2f/%.2f unreachable=%.2f rejected=%.2f blackhole=%.2f outage=%v/%v} "+
		"stream{ackdelay=%.2f<=%v faults=%v break/revoke/redeliver/status=%d/%d/%d/%d status<=%v openfail=%.2f}",
		red, c.NackDelay, c.CountsAttempts, order, c.DefaultWindow, c.MaxWindow,
		p.AnswerDelay, p.InlineAnswers, p.PUnknownStored, p.PUnknownLost, p.PUnreachable, p.PRejected, p.PBlackhole, p.OutageEvery, p.OutageMax,
		p.PAckDelay, p.AckDelay, p.FaultEvery, p.WBreak, p.WRevoke, p.WRedeliver, p.WStatusOutage, p.StatusMax, p.POpenFail)
}

func pick(r *rand.Rand, vs ...float64) float64 { return vs[r.IntN(len(vs))] }

// Rand returns the random source of one decision: seed and the parts that
// name the decision (a message ID and its send count, a stream number and
// its fault count). Keying each decision, instead of drawing them all
// from one stream, keeps a run close to reproducible from its seed when
// goroutines interleave differently.
func Rand(seed uint64, parts ...any) *rand.Rand {
	h := fnv.New64a()
	for _, p := range parts {
		fmt.Fprint(h, p, "\x00")
	}
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// chance reports whether r draws below p.
func chance(r *rand.Rand, p float64) bool { return p > 0 && r.Float64() < p }

// upTo draws a duration from 0 to max.
func upTo(r *rand.Rand, max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	return time.Duration(r.Int64N(int64(max) + 1))
}
