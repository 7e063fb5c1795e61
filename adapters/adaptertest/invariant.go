package adaptertest

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// envSeed fixes the seed of RandomizedInvariant (else a random one,
// logged).
const envSeed = "HERALD_ADAPTERTEST_SEED"

// testInvariant ("RandomizedInvariant") is the short version, on a real
// backend, of the randomized invariant test of internal/sim. A seed draws
// a plan: the subscriber's concurrency and window, each message's key
// (a few keys, some messages without), how it is published (Publish of
// one, Publish of a batch, PublishAsync with a Flush now and then, some
// through a publish middleware that adds a message or passes on a context
// without cancellation) and what its handler does (succeeds; fails once,
// twice or with herald.RetryAfter; panics once). One subscriber of a
// group handles them, and the test checks:
//
//   - every message, added ones included, is handled successfully;
//   - no two handlers of one key run at once;
//   - with an Order (OrderKey, OrderQueue), the first handlings of a key's
//     messages follow their publish order; with RedeliverLocal a failed
//     message is handled again before any later message of its key;
//   - every PublishAsync done is called exactly once, and before the Flush
//     after it returns; no message arrives that was not published.
//
// The seed is logged; a failure reruns with the same plan as
// HERALD_ADAPTERTEST_SEED=<seed> go test -run '<this test>' (the broker's
// timing still varies).
func testInvariant(t *testing.T, e *env) {
	seed := invariantSeed(t)
	t.Logf("seed %d (rerun the same plan: %s=%d)", seed, envSeed, seed)
	p := drawInvariant(seed, e.caps)
	t.Logf("plan: %s", p)
	failed := func(format string, args ...any) {
		t.Helper()
		t.Errorf("seed %d: "+format, append([]any{seed}, args...)...)
	}

	topic := e.topic("invariant")
	ready, readyCh := readyOption()
	opts := []subscriber.Option{ready, subscriber.WithConcurrency(p.concurrency),
		subscriber.WithLogger(slog.New(slog.DiscardHandler))} // panics log their stacks
	if p.window > 0 {
		opts = append(opts, subscriber.WithWindow(p.window))
	}
	sub := e.subscriber(e.group("invariant"), opts...)
	ob := newInvObserver(p)
	e.subscribe(sub, readyCh, topic, ob.handle)

	pub, err := publisher.OpenConfig(context.Background(), e.cfg, publisher.WithMiddleware(ob.middleware))
	if err != nil {
		t.Fatalf("publisher.OpenConfig(%s): %v", e.cfg, err)
	}
	t.Cleanup(func() { _ = pub.Close() })
	ob.publish(t, pub, topic, failed)

	select {
	case <-ob.allDone:
	case <-time.After(e.wait()):
		failed("not every message handled successfully within %v: %s", e.wait(), ob.missing())
	}
	for _, problem := range ob.problems() {
		failed("%s", problem)
	}
}

// invariantSeed is HERALD_ADAPTERTEST_SEED or a random seed.
func invariantSeed(t *testing.T) uint64 {
	if s := os.Getenv(envSeed); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", envSeed, s, err)
		}
		return n
	}
	return rand.Uint64()
}

// fate is what the handler does with a message, per handling.
type fate uint8

const (
	fateOK         fate = iota
	fateFailOnce        // an error, then success
	fateFailTwice       // herald.RetryAfter, then an error, then success
	fateRetryAfter      // herald.RetryAfter with a short delay, then success
	fatePanicOnce       // a panic, then success
)

var fateNames = [...]string{"ok", "fail once", "fail twice", "retry after", "panic once"}

// failures is how many handlings of a message with f fail first.
func (f fate) failures() int {
	switch f {
	case fateOK:
		return 0
	case fateFailTwice:
		return 2
	}
	return 1
}

// invMsg is one planned message.
type invMsg struct {
	i     int
	call  int // the publish call it goes in (a batch: several messages)
	key   string
	fate  fate
	op    string // "publish", "batch", "async"
	flush bool   // a Flush follows this async publish
	add   bool   // the middleware adds a keyless message after it
	bg    bool   // the middleware passes its call on with context.WithoutCancel
}

// invPlan is what a seed draws.
type invPlan struct {
	concurrency, window int
	msgs                []invMsg
	caps                adapters.Capabilities
}

func (p invPlan) String() string {
	counts := map[string]int{}
	for _, m := range p.msgs {
		counts[m.op]++
		counts[fateNames[m.fate]]++
	}
	return fmt.Sprintf("%d messages, concurrency %d, window %d (0: default), ops %v, order %s, %s",
		len(p.msgs), p.concurrency, p.window, counts, orderName(p.caps.Order), redeliveryName(p.caps.Redelivery))
}

// drawInvariant draws the plan of seed.
func drawInvariant(seed uint64, caps adapters.Capabilities) invPlan {
	r := rand.New(rand.NewPCG(seed, 0x1417))
	p := invPlan{
		concurrency: []int{1, 2, 4, 8}[r.IntN(4)],
		window:      []int{0, 0, 1, 3, 16}[r.IntN(5)],
		caps:        caps,
	}
	n := 40 + r.IntN(41)
	keys := 1 + r.IntN(5)
	for i, call := 0, 0; i < n; call++ {
		op := "publish"
		size := 1
		switch x := r.IntN(10); {
		case x < 3:
			op = "async"
		case x < 5:
			op, size = "batch", min(2+r.IntN(3), n-i)
		}
		for j := 0; j < size; j++ {
			m := invMsg{i: i, call: call, op: op, add: r.IntN(12) == 0, bg: r.IntN(8) == 0}
			if r.IntN(8) != 0 {
				m.key = fmt.Sprint("k", r.IntN(keys))
			}
			// Most failures ask for a short delay: a key waits for its
			// failed message on RedeliverLocal, and the default delay
			// (100 ms, then 200 ms) would add up.
			switch x := r.IntN(100); {
			case x < 15:
				m.fate = fateRetryAfter
			case x < 23:
				m.fate = fateFailOnce
			case x < 30:
				m.fate = fatePanicOnce
			case x < 35:
				m.fate = fateFailTwice
			}
			m.flush = op == "async" && r.IntN(5) == 0
			p.msgs = append(p.msgs, m)
			i++
		}
	}
	return p
}

// invObserver publishes a plan and records what the handler sees.
type invObserver struct {
	plan invPlan

	mu       sync.Mutex
	byID     map[string]*invState // every expected message, added ones included
	left     int                  // expected messages not yet handled successfully
	sealed   bool                 // every message is published: left can only fall
	allDone  chan struct{}        // closed once sealed and left is 0
	running  map[string]bool      // keys with a handler running
	lastKey  map[string]*invState
	firstPos map[string]int // key -> publish position of its last first handling
	problem  []string
}

// invState is one expected message.
type invState struct {
	id       string
	pos      int // publish position (added messages: after the one they follow)
	key      string
	fate     fate
	handled  int // handlings started
	ok       bool
	lastFail bool // its last handling failed
	dones    int  // PublishAsync dones
	async    bool
}

func newInvObserver(p invPlan) *invObserver {
	return &invObserver{plan: p, byID: map[string]*invState{}, allDone: make(chan struct{}),
		running: map[string]bool{}, lastKey: map[string]*invState{}, firstPos: map[string]int{}}
}

func (o *invObserver) broken(format string, args ...any) {
	o.problem = append(o.problem, fmt.Sprintf(format, args...))
}

func (o *invObserver) problems() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.problem...)
}

// expect registers a message about to be published.
func (o *invObserver) expect(m *herald.Message, pos int, f fate, async bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.byID[m.UUID] = &invState{id: m.UUID, pos: pos, key: herald.Key(m), fate: f, async: async}
	o.left++
}

// missing lists the messages not handled successfully yet.
func (o *invObserver) missing() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for _, s := range o.byID {
		if !s.ok {
			out = append(out, fmt.Sprintf("#%d key=%q %s handled %d times", s.pos, s.key, fateNames[s.fate], s.handled))
		}
	}
	return fmt.Sprintf("%d of %d: %s", len(out), len(o.byID), strings.Join(first(out, 10), "; "))
}

func first(s []string, n int) []string { return s[:min(n, len(s))] }

// handle is the subscriber's handler.
func (o *invObserver) handle(_ context.Context, m *herald.Message) error {
	o.mu.Lock()
	s := o.byID[m.UUID]
	if s == nil {
		o.broken("a message that was not published: %s %q", m.UUID, m.Payload)
		o.mu.Unlock()
		return nil
	}
	k := s.key
	if k != "" {
		if o.running[k] {
			o.broken("key %s: two handlers at once (message #%d started while another ran)", k, s.pos)
		}
		o.running[k] = true
		o.checkOrder(s)
	}
	s.handled++
	n := s.handled
	o.mu.Unlock()

	fail := n <= s.fate.failures()
	o.mu.Lock()
	if k != "" {
		o.running[k] = false
	}
	s.lastFail = fail
	if !fail && !s.ok {
		s.ok = true
		if o.left--; o.left == 0 && o.sealed {
			close(o.allDone)
		}
	}
	o.mu.Unlock()
	if !fail {
		return nil
	}
	switch {
	case s.fate == fatePanicOnce:
		panic("adaptertest: deliberate panic in RandomizedInvariant")
	case s.fate == fateRetryAfter, s.fate == fateFailTwice && n == 1:
		return herald.RetryAfter(errTest, 10*time.Millisecond)
	}
	return errTest
}

// checkOrder checks the start of a handling of s against the earlier
// ones of its key (o.mu held).
func (o *invObserver) checkOrder(s *invState) {
	caps := o.plan.caps
	prev := o.lastKey[s.key]
	o.lastKey[s.key] = s
	if caps.Order == adapters.OrderNone {
		return
	}
	if caps.Redelivery == adapters.RedeliverLocal && prev != nil && prev.lastFail && prev != s {
		o.broken("key %s: message #%d handled while #%d, which failed, was not handled again yet (RedeliverLocal: a failed message is handled again before later messages of its key)",
			s.key, s.pos, prev.pos)
	}
	if s.handled > 0 {
		return // a redelivery: where it comes is the backend's (RedeliverBroker)
	}
	if last, ok := o.firstPos[s.key]; ok && last > s.pos {
		o.broken("key %s: message #%d handled for the first time after #%d, published later (%s)", s.key, s.pos, last, orderName(caps.Order))
	}
	o.firstPos[s.key] = max(o.firstPos[s.key], s.pos)
}

// middleware is the publish middleware: it adds a keyless message after
// some messages and passes some calls on with context.WithoutCancel.
func (o *invObserver) middleware(next herald.PublishFunc) herald.PublishFunc {
	return func(ctx context.Context, topic string, msgs ...*herald.Message) error {
		out := make([]*herald.Message, 0, len(msgs))
		bg := false
		for _, m := range msgs {
			out = append(out, m)
			pm := o.planned(m)
			if pm == nil {
				continue
			}
			bg = bg || pm.bg
			if pm.add {
				x := herald.NewMessage([]byte("added after " + strconv.Itoa(pm.i)))
				o.expect(x, pm.i, fateOK, false)
				out = append(out, x)
			}
		}
		if bg {
			ctx = context.WithoutCancel(ctx)
		}
		return next(ctx, topic, out...)
	}
}

// planned finds the planned message m is a copy of (the publisher's
// middleware sees copies: same ID).
func (o *invObserver) planned(m *herald.Message) *invMsg {
	i, err := strconv.Atoi(m.Metadata.Get(invIndexHeader))
	if err != nil || i < 0 || i >= len(o.plan.msgs) {
		return nil
	}
	return &o.plan.msgs[i]
}

// invIndexHeader carries a planned message's index in the plan.
const invIndexHeader = "adaptertest-invariant-index"

// publish publishes the plan in order from one goroutine.
func (o *invObserver) publish(t *testing.T, pub *publisher.Publisher, topic string, failed func(string, ...any)) {
	t.Helper()
	msgs := o.plan.msgs
	var async []*invState // PublishAsync'd since the last Flush
	flush := func() {
		if err := pub.Flush(context.Background()); err != nil {
			failed("Flush: %v", err)
		}
		o.mu.Lock()
		defer o.mu.Unlock()
		for _, s := range async {
			if s.dones != 1 {
				failed("PublishAsync of #%d: done called %d times when Flush returned; want 1", s.pos, s.dones)
			}
		}
		async = async[:0]
	}
	for i := 0; i < len(msgs); {
		j := i + 1
		for j < len(msgs) && msgs[j].call == msgs[i].call {
			j++
		}
		batch := make([]*herald.Message, 0, j-i)
		for _, pm := range msgs[i:j] {
			m := herald.NewMessage([]byte(strconv.Itoa(pm.i)))
			m.Metadata.Set(invIndexHeader, strconv.Itoa(pm.i))
			if pm.key != "" {
				herald.SetKey(m, pm.key)
			}
			o.expect(m, pm.i, pm.fate, pm.op == "async")
			batch = append(batch, m)
		}
		switch pm := msgs[i]; pm.op {
		case "async":
			m := batch[0]
			o.mu.Lock()
			s := o.byID[m.UUID]
			o.mu.Unlock()
			err := pub.PublishAsync(context.Background(), topic, m, func(got *herald.Message, err error) {
				o.mu.Lock()
				defer o.mu.Unlock()
				s.dones++
				if err != nil {
					o.broken("PublishAsync of #%d: done got %v", pm.i, err)
				}
				if got != m {
					o.broken("PublishAsync of #%d: done got another message", pm.i)
				}
			})
			if err != nil {
				failed("PublishAsync of #%d: %v", pm.i, err)
			}
			async = append(async, s)
			if pm.flush {
				flush()
			}
		default:
			if err := pub.Publish(context.Background(), topic, batch...); err != nil {
				failed("Publish of #%d..#%d: %v", pm.i, pm.i+len(batch)-1, err)
			}
		}
		i = j
	}
	flush()
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sealed = true
	if o.left == 0 {
		close(o.allDone)
	}
	for _, s := range o.byID {
		if s.async && s.dones != 1 {
			failed("PublishAsync of #%d: done called %d times; want 1", s.pos, s.dones)
		}
	}
}
