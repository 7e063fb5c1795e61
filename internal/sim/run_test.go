package sim_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/internal/sim"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

const (
	topic = "t"
	group = "g"
	// tolerance is what a bound may be exceeded by (fake time: the
	// facade's own steps take none).
	tolerance = 5 * time.Millisecond
	// forever is how long the test waits for a call that should have
	// returned long before (fake time: waiting costs nothing).
	forever = time.Hour
	// verdictGrace is how long a Publish whose deadline passed waits for
	// the driver's verdict (publisher/publish.go).
	verdictGrace = 100 * time.Millisecond
	// drainGrace is the second the subscriber gives handlers after
	// cancelling their contexts (subscriber/drain.go).
	drainGrace = time.Second
)

// runner is one run: a broker, the facade on it, and what happened.
type runner struct {
	seed    uint64
	sc      scenario
	plan    sim.Plan
	b       *sim.Broker
	cfg     herald.Config
	rec     *recorder
	log     *slog.Logger
	calm    atomic.Bool
	release chan struct{} // closed at the end: hung handlers return

	subsMu sync.Mutex
	subs   map[int]*subscriber.Subscriber // by the driver's subscription number
}

func newRunner(seed uint64, sc scenario, plan sim.Plan) *runner {
	b := sim.New(seed, plan)
	r := &runner{
		seed: seed, sc: sc, plan: plan, b: b, cfg: drv.Add(b),
		rec: newRecorder(b.Trace()), log: slog.New(slog.DiscardHandler), release: make(chan struct{}),
		subs: map[int]*subscriber.Subscriber{},
	}
	b.OnStatus(r.statusReported)
	return r
}

// openSubscriber opens a subscriber and notes which driver subscription
// is its.
func (r *runner) openSubscriber(opts ...subscriber.Option) (*subscriber.Subscriber, error) {
	r.subsMu.Lock()
	defer r.subsMu.Unlock()
	before := r.b.Subscriptions()
	s, err := subscriber.OpenConfig(context.Background(), r.cfg, opts...)
	if n := r.b.Subscriptions(); err == nil && n == before+1 {
		r.subs[n] = s
	}
	return s, err
}

// statusReported checks that a stream's outage reported through Status
// shows in its subscriber's Health.
func (r *runner) statusReported(sub int, err error) {
	if err == nil {
		return
	}
	r.subsMu.Lock()
	s := r.subs[sub]
	r.subsMu.Unlock()
	if s != nil && s.Health() == nil {
		r.rec.broken("subscription %d reported %v through Status, but its subscriber's Health is nil", sub, err)
	}
}

// within runs f and records a broken invariant when it takes longer than
// bound; it stops waiting after forever.
func (r *runner) within(what string, bound time.Duration, f func()) time.Duration {
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(forever):
		r.rec.broken("%s did not return (its bound: %v)", what, bound)
		return forever
	}
	took := time.Since(start)
	if took > bound+tolerance {
		r.rec.broken("%s took %v, over its bound %v", what, took, bound)
	}
	return took
}

// run is the whole run: the chaos phase (publishing and consuming under
// faults), then the calm phase (faults off, a well-behaved subscriber
// until every stored message is acked), then closing everything.
func (r *runner) run() {
	prep, err := r.openSubscriber(subscriber.WithGroup(group), subscriber.WithLogger(r.log))
	if err != nil {
		r.rec.broken("OpenConfig: %v", err)
		return
	}
	if err := prep.Prepare(context.Background(), topic); err != nil {
		r.rec.broken("Prepare: %v", err)
	}
	r.within("Close of the preparing subscriber", r.sc.drain+drainGrace, func() { _ = prep.Close() })

	stopSlots := make(chan struct{})
	var slots sync.WaitGroup
	for i := range r.sc.slots {
		slots.Go(func() { r.slot(i, stopSlots) })
	}
	r.publish()

	r.calm.Store(true)
	r.b.Calm()
	r.b.Trace().Add(sim.Event{What: evCalm})
	close(stopSlots)
	r.within("the chaos subscribers' stop", 2*(r.sc.drain+drainGrace)+time.Second, slots.Wait)

	r.consume(sim.Rand(r.seed, "final"), "final", nil, true)

	close(r.release)
	time.Sleep(time.Minute) // detached handlers finish, timers fire
}

// --- publish side ---

// pubs is the current publisher, replaced now and then.
type pubs struct {
	mu  sync.Mutex
	cur *publisher.Publisher
	id  int
}

func (r *runner) openPublisher() *publisher.Publisher {
	opts := []publisher.Option{publisher.WithLogger(r.log), publisher.WithPublishTimeout(r.sc.timeout), publisher.WithAsyncWindow(r.sc.asyncWindow)}
	if r.sc.middleware {
		opts = append(opts, publisher.WithMiddleware(r.middleware()))
	}
	p, err := publisher.OpenConfig(context.Background(), r.cfg, opts...)
	if err != nil {
		r.rec.broken("publisher.OpenConfig: %v", err)
		return nil
	}
	return p
}

func (ps *pubs) current() (*publisher.Publisher, int) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.cur, ps.id
}

// publish runs the publishing goroutines and the publisher replacer, then
// flushes and closes.
func (r *runner) publish() {
	ps := &pubs{cur: r.openPublisher(), id: 1}
	if ps.cur == nil {
		return
	}
	var wg sync.WaitGroup
	for g := range r.sc.goroutines {
		wg.Go(func() { r.publishing(g, ps) })
	}
	stop := make(chan struct{})
	var closer sync.WaitGroup
	if r.sc.closePubs > 0 {
		closer.Go(func() { r.replacing(ps, stop) })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(forever):
		r.rec.broken("the publishing goroutines did not finish")
	}
	close(stop)
	closer.Wait()
	p, id := ps.current()
	f := r.rec.flush(id)
	ctx, cancel := context.WithTimeout(context.Background(), forever)
	err := p.Flush(ctx)
	cancel()
	r.rec.flushed(f, err)
	if err != nil {
		r.rec.broken("the last Flush: %v", err)
	}
	r.closePublisher(sim.Rand(r.seed, "last close"), p, id)
}

// replacing closes the current publisher now and then, opening another.
func (r *runner) replacing(ps *pubs, stop <-chan struct{}) {
	rnd := sim.Rand(r.seed, "replace")
	for {
		select {
		case <-stop:
			return
		case <-time.After(upTo(rnd, 2*r.sc.closePubs)):
		}
		next := r.openPublisher()
		if next == nil {
			return
		}
		ps.mu.Lock()
		old, id := ps.cur, ps.id
		ps.cur, ps.id = next, id+1
		ps.mu.Unlock()
		r.closePublisher(rnd, old, id)
	}
}

// closePublisher closes p with Close or Shutdown and checks the bound.
func (r *runner) closePublisher(rnd *rand.Rand, p *publisher.Publisher, id int) {
	if rnd.IntN(2) == 0 {
		r.b.Trace().Add(sim.Event{What: evStop, Note: fmt.Sprintf("publisher %d: Close", id)})
		r.within(fmt.Sprintf("publisher %d Close", id), r.sc.timeout+time.Second, func() { _ = p.Close() })
		r.rec.pubClosed(id)
		return
	}
	d := upTo(rnd, 2*r.sc.timeout)
	r.b.Trace().Add(sim.Event{What: evStop, Note: fmt.Sprintf("publisher %d: Shutdown(%v)", id, d)})
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	r.within(fmt.Sprintf("publisher %d Shutdown(%v)", id, d), d, func() { _ = p.Shutdown(ctx) })
	r.rec.pubClosed(id)
}

// publishing is one publishing goroutine: Publish of one message or a
// batch, or PublishAsync, with contexts with or without deadlines, and
// now and then a Flush.
func (r *runner) publishing(g int, ps *pubs) {
	rnd := sim.Rand(r.seed, "g", g)
	for i := 0; i < r.sc.perG; {
		p, id := ps.current()
		op, n := "publish", 1
		switch x := rnd.IntN(10); {
		case x < 5:
			op = "async"
		case x < 6:
			op, n = "batch", min(2+rnd.IntN(2), r.sc.perG-i)
		}
		recs := make([]*pubRec, n)
		msgs := make([]*herald.Message, n)
		for j := range n {
			key := ""
			if rnd.IntN(10) != 0 {
				key = fmt.Sprint("k", rnd.IntN(r.sc.keys))
			}
			recs[j] = &pubRec{id: fmt.Sprintf("g%d-%03d", g, i+j), key: key, seq: i + j}
			msgs[j] = message(recs[j].id, key)
		}
		i += n
		ctx, cancel := r.publishCtx(rnd)
		r.rec.published(op, id, g, recs...)
		start := time.Now()
		var err error
		if op == "async" {
			m := msgs[0]
			slow := sim.Rand(r.seed, "done", m.UUID).IntN(4) == 0
			err = p.PublishAsync(ctx, topic, m, func(got *herald.Message, err error) {
				if got != m {
					r.rec.broken("done of %s got another message (%p, want %p)", m.UUID, got, m)
				}
				r.rec.done(m.UUID, err)
				r.unchanged(m)
				if slow {
					time.Sleep(time.Millisecond)
				}
				r.rec.doneReturned(m.UUID)
			})
		} else {
			err = p.Publish(ctx, topic, msgs...)
			for _, m := range msgs {
				r.unchanged(m)
			}
		}
		took := time.Since(start)
		r.rec.returned(err, took, recs...)
		r.checkPublishTime(op, ctx, start, took, recs[0].id)
		if op == "async" && err == nil {
			r.watchDone(recs[0], time.Now())
		}
		cancel()
		if rnd.IntN(8) == 0 {
			r.flush(rnd, p, id)
		}
		time.Sleep(upTo(rnd, 30*time.Millisecond))
	}
}

// unchanged checks that the facade did not change the caller's message
// m (made by message).
func (r *runner) unchanged(m *herald.Message) {
	want := 0
	if m.Metadata.Get(herald.KeyHeader) != "" {
		want = 1
	}
	if len(m.Metadata) != want || string(m.Payload) != m.UUID {
		r.rec.broken("the caller's message %s was changed: metadata %v, payload %q", m.UUID, m.Metadata, m.Payload)
	}
}

// publishCtx is a publish call's context: mostly none, sometimes a
// deadline, rarely cancelled already.
func (r *runner) publishCtx(rnd *rand.Rand) (context.Context, context.CancelFunc) {
	switch x := rnd.IntN(20); {
	case x < 12:
		return context.Background(), func() {}
	case x < 19:
		return context.WithTimeout(context.Background(), 1+upTo(rnd, 2*r.sc.timeout))
	default:
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return ctx, cancel
	}
}

// asyncBound is how long a message given to PublishAsync may wait for
// its answer: the publish timeout plus a hundredth (publisher/deadline.go).
func (r *runner) asyncBound() time.Duration {
	return r.sc.timeout + max(r.sc.timeout/100, time.Millisecond)
}

// checkPublishTime checks that a call returned within its bound: Publish
// within its ctx's deadline, else the publish timeout (also when the
// middleware passed the call on with context.Background(), which drops
// the caller's deadline: publisher/publish.go, sendMiddleware), plus the
// grace it waits for the driver's verdict; PublishAsync (waiting for room
// in the window) within its ctx's deadline, if any.
func (r *runner) checkPublishTime(op string, ctx context.Context, start time.Time, took time.Duration, id string) {
	bound := r.sc.timeout
	dl, ok := ctx.Deadline()
	switch {
	case op == "async":
		if !ok {
			return // waiting for room in the window: bounded by ctx only
		}
		bound = dl.Sub(start)
	case ok && !r.rec.isDetached(id):
		bound = dl.Sub(start)
	}
	if op != "async" {
		bound += verdictGrace
	}
	if took > bound+tolerance {
		r.rec.broken("%s of %s took %v, over its bound %v", op, id, took, bound)
	}
}

// watchDone checks, when the async bound has passed, that p's done was
// called.
func (r *runner) watchDone(p *pubRec, from time.Time) {
	time.AfterFunc(r.asyncBound()+tolerance-time.Since(from), func() {
		r.rec.mu.Lock()
		dones := p.dones
		r.rec.mu.Unlock()
		if dones == 0 {
			r.rec.broken("PublishAsync of %s: no done within %v of its return", p.id, r.asyncBound())
		}
	})
}

// flush calls Flush, sometimes with a deadline.
func (r *runner) flush(rnd *rand.Rand, p *publisher.Publisher, id int) {
	ctx, cancel := context.WithTimeout(context.Background(), forever)
	if rnd.IntN(2) == 0 {
		cancel()
		ctx, cancel = context.WithTimeout(context.Background(), upTo(rnd, 2*r.sc.timeout))
	}
	defer cancel()
	f := r.rec.flush(id)
	err := p.Flush(ctx)
	r.rec.flushed(f, err)
}

type ctxKey struct{}

// middleware is the publish middleware: it drops messages, adds one after
// a message, and passes on a new context (Background, WithoutCancel, a
// new value), each decided per message from the seed.
func (r *runner) middleware() herald.PublishMiddleware {
	return func(next herald.PublishFunc) herald.PublishFunc {
		return func(ctx context.Context, t string, msgs ...*herald.Message) error {
			if d, ok := herald.DeliveryFromContext(ctx); !ok || d.Topic != t || d.Backend != sim.Scheme {
				r.rec.broken("publish middleware got Delivery %+v (%v) for topic %s", d, ok, t)
			}
			var out []*herald.Message
			for _, m := range msgs {
				rnd := sim.Rand(r.seed, "mw", m.UUID)
				if chance(rnd, r.sc.pDrop) {
					r.rec.dropped(m.UUID)
					continue
				}
				out = append(out, m)
				if chance(rnd, r.sc.pAdd) {
					x := message(m.UUID+"+", "")
					r.rec.added(m.UUID, x.UUID)
					out = append(out, x)
				}
			}
			if len(out) == 0 {
				return nil
			}
			if rnd := sim.Rand(r.seed, "mwlate", msgs[0].UUID); chance(rnd, r.sc.pLate) {
				r.rec.late(out)
				go func() {
					time.Sleep(upTo(rnd, 50*time.Millisecond))
					_ = next(ctx, t, out...)
				}()
				return nil
			}
			if rnd := sim.Rand(r.seed, "mwctx", msgs[0].UUID); chance(rnd, r.sc.pRecontext) {
				how := "WithValue"
				switch rnd.IntN(3) {
				case 0:
					ctx, how = context.Background(), "Background"
				case 1:
					ctx, how = context.WithoutCancel(ctx), "WithoutCancel"
				default:
					ctx = context.WithValue(ctx, ctxKey{}, "v")
				}
				r.rec.recontexted(msgs[0].UUID, how)
			}
			return next(ctx, t, out...)
		}
	}
}

// --- consume side ---

// slot keeps a subscriber running, replacing it after its lifetime
// (churn), until stop is closed.
func (r *runner) slot(i int, stop <-chan struct{}) {
	rnd := sim.Rand(r.seed, "slot", i)
	for gen := 0; ; gen++ {
		select {
		case <-stop:
			return
		default:
		}
		r.consume(rnd, fmt.Sprintf("s%d.%d", i, gen), stop, false)
		select {
		case <-stop:
			return
		case <-time.After(upTo(rnd, 500*time.Millisecond)):
		}
	}
}

// subCall is one Subscribe call, as its handler sees it.
type subCall struct {
	name        string
	concurrency int
	running     atomic.Int64
	returned    chan error
	cancel      context.CancelFunc

	mu         sync.Mutex
	keys       map[string]int // handlers running per key
	stopAt     time.Time      // when stopping began (zero: running)
	cancelFrom time.Duration  // handler contexts may end this long after stopAt
	cancelled  []string       // handler contexts that ended earlier (early)
}

// early keeps a handler context that ended before the test stopped the
// call: a problem unless the call gave up on its own (settle).
func (sc *subCall) early(problem string) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.cancelled = append(sc.cancelled, problem)
}

// settle reports the early cancellations once the call returned err: a
// call that gave up (ErrSubscriptionLost) drained on its own and
// cancelled its handlers then.
func (r *runner) settle(sc *subCall, err error) {
	sc.mu.Lock()
	problems := sc.cancelled
	sc.cancelled = nil
	sc.mu.Unlock()
	if errors.Is(err, herald.ErrSubscriptionLost) {
		return
	}
	for _, p := range problems {
		r.rec.broken("%s", p)
	}
}

// stopping records that the call is being stopped and that its handlers'
// contexts may be cancelled after cancelFrom.
func (sc *subCall) stopping(cancelFrom time.Duration) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.stopAt, sc.cancelFrom = time.Now(), cancelFrom
}

// consume opens a subscriber and runs one Subscribe call (sometimes two)
// until its lifetime ends or stop is closed (final: until every stored
// message is acked), then stops it one way or another and checks the
// bounds.
func (r *runner) consume(rnd *rand.Rand, name string, stop <-chan struct{}, final bool) {
	opts := []subscriber.Option{subscriber.WithGroup(group), subscriber.WithLogger(r.log),
		subscriber.WithConcurrency(r.sc.concurrency), subscriber.WithDrainTimeout(r.sc.drain)}
	if r.sc.window > 0 {
		opts = append(opts, subscriber.WithWindow(r.sc.window))
	}
	if r.sc.recovery > 0 {
		opts = append(opts, subscriber.WithRecoveryTimeout(r.sc.recovery))
	}
	s, err := r.openSubscriber(opts...)
	if err != nil {
		r.rec.broken("%s: OpenConfig: %v", name, err)
		return
	}
	n := 1
	if !final && rnd.IntN(4) == 0 {
		n = 2 // two Subscribe calls on one subscriber
	}
	calls := make([]*subCall, n)
	for i := range calls {
		sc := &subCall{name: fmt.Sprintf("%s/%d", name, i), concurrency: r.sc.concurrency, keys: map[string]int{}, returned: make(chan error, 1)}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		sc.cancel = cancel
		calls[i] = sc
		go func() { sc.returned <- s.Subscribe(ctx, topic, r.handler(sc)) }()
	}

	early := make([]bool, n)
	if final {
		wctx, wcancel := context.WithTimeout(context.Background(), forever)
		if err := r.b.WaitSettled(wctx, topic, group); err != nil {
			r.rec.broken("stalled: %d stored messages not acked after %v of calm: %v", len(r.b.Unacked(topic, group)), forever, r.b.Unacked(topic, group))
		}
		wcancel()
	} else {
		var life <-chan time.Time
		if r.sc.churn > 0 {
			life = time.After(upTo(rnd, 2*r.sc.churn))
		}
		select {
		case <-life:
		case <-stop:
		case err := <-calls[0].returned:
			early[0] = true
			r.b.Trace().Add(sim.Event{What: evSubscribe, Err: err, Note: calls[0].name + " returned on its own"})
			r.settle(calls[0], err)
			if err == nil {
				r.rec.broken("%s: Subscribe returned nil though neither its ctx ended nor its subscriber closed", calls[0].name)
			}
		}
	}

	bound := r.sc.drain + drainGrace
	start := time.Now()
	switch way := rnd.IntN(3); {
	case way == 0 || final:
		r.b.Trace().Add(sim.Event{What: evStop, Note: name + ": Close"})
		for _, sc := range calls {
			sc.stopping(r.sc.drain)
		}
		r.within(name+" Close", bound, func() { _ = s.Close() })
	case way == 1:
		d := upTo(rnd, 2*r.sc.drain)
		r.b.Trace().Add(sim.Event{What: evStop, Note: fmt.Sprintf("%s: Shutdown(%v)", name, d)})
		for _, sc := range calls {
			sc.stopping(min(d, r.sc.drain))
		}
		sctx, scancel := context.WithTimeout(context.Background(), d)
		r.within(fmt.Sprintf("%s Shutdown(%v)", name, d), min(d, bound), func() { _ = s.Shutdown(sctx) })
		scancel()
	default:
		r.b.Trace().Add(sim.Event{What: evStop, Note: name + ": cancel, then Close"})
		for _, sc := range calls {
			sc.stopping(r.sc.drain)
			sc.cancel()
		}
		for i, sc := range calls {
			if !early[i] {
				r.waitSubscribe(sc, start, bound)
				early[i] = true
			}
		}
		r.within(name+" Close after its Subscribe calls returned", tolerance, func() { _ = s.Close() })
	}
	for i, sc := range calls {
		if !early[i] {
			r.waitSubscribe(sc, start, bound)
		}
	}
	if rnd.IntN(4) == 0 {
		r.within(name+" second Close", tolerance, func() { _ = s.Close() })
	}
	if rnd.IntN(4) == 0 {
		var err error
		r.within(name+" Subscribe after Close", tolerance, func() {
			err = s.Subscribe(context.Background(), topic, func(context.Context, *herald.Message) error {
				r.rec.broken("%s: a handler ran after Close", name)
				return nil
			})
		})
		if !errors.Is(err, herald.ErrClosed) {
			r.rec.broken("%s: Subscribe after Close returned %v, want ErrClosed", name, err)
		}
	}
}

// waitSubscribe waits for a stopped Subscribe call to return, and checks
// it did within bound of start.
func (r *runner) waitSubscribe(sc *subCall, start time.Time, bound time.Duration) {
	name := sc.name
	select {
	case err := <-sc.returned:
		r.b.Trace().Add(sim.Event{What: evSubscribe, Err: err, Note: name})
		r.settle(sc, err)
		if took := time.Since(start); took > bound+tolerance {
			r.rec.broken("%s: Subscribe returned %v after it was stopped, over its bound %v", name, took, bound)
		}
	case <-time.After(forever):
		r.rec.broken("%s: Subscribe did not return after it was stopped", name)
	}
}

// handler is the Subscribe call's handler: it records what it is given
// and behaves as the seed says.
func (r *runner) handler(sc *subCall) herald.Handler {
	return func(ctx context.Context, m *herald.Message) error {
		del, _ := strconv.ParseUint(m.Metadata.Get(sim.DeliveryHeader), 10, 64)
		key := herald.Key(m)
		d, _ := herald.DeliveryFromContext(ctx)
		if d.Backend != sim.Scheme || d.Topic != topic || d.Group != group {
			r.rec.broken("%s: handler of %s got Delivery %+v, want backend %s, topic %s, group %s", sc.name, m.UUID, d, sim.Scheme, topic, group)
		}
		if md, ok := herald.DeliveryFromContext(m.Context()); !ok || md != d {
			r.rec.broken("%s: the message's context carries Delivery %+v, the handler's %+v", sc.name, md, d)
		}
		n := r.rec.handle(m.UUID)
		seq := r.b.Trace().Add(sim.Event{What: evHandle, Msg: m.UUID, Key: key, Del: del, Note: fmt.Sprintf("%s n=%d attempt=%d", sc.name, n, d.Attempt)})
		r.rec.attempt(seq, d.Attempt)
		if d.Attempt < 1 {
			r.rec.broken("%s: handler of %s (delivery %d) got Attempt %d", sc.name, m.UUID, del, d.Attempt)
		}
		if running := sc.running.Add(1); running > int64(sc.concurrency) {
			r.rec.broken("%s: %d handlers running at once, concurrency %d", sc.name, running, sc.concurrency)
		}
		defer sc.running.Add(-1)
		if key != "" { // one at a time per key, on every backend (subscriber/doc.go)
			sc.mu.Lock()
			sc.keys[key]++
			if sc.keys[key] > 1 {
				r.rec.broken("%s: two handlers of key %s at once (%s, delivery %d)", sc.name, key, m.UUID, del)
			}
			sc.mu.Unlock()
			defer func() {
				sc.mu.Lock()
				sc.keys[key]--
				sc.mu.Unlock()
			}()
		}
		return r.behave(ctx, sc, m, del, n)
	}
}

var errHandler = errors.New("simulated handler failure")

// behave is the handler's behaviour on its n-th invocation for m.
func (r *runner) behave(ctx context.Context, sc *subCall, m *herald.Message, del uint64, n int) error {
	end := func(err error) error {
		note := ""
		if d, ok := herald.RetryDelay(err); ok {
			note = "retry-after=" + d.String()
		} else if herald.IsPermanent(err) {
			note = "permanent"
		}
		r.b.Trace().Add(sim.Event{What: evHandled, Msg: m.UUID, Del: del, Err: err, Note: note})
		return err
	}
	if r.calm.Load() || n > 5 {
		return end(nil)
	}
	s := r.sc
	rnd := sim.Rand(r.seed, "handle", m.UUID, n)
	x := rnd.Float64()
	switch {
	case x < s.pHang:
		<-r.release // ignores ctx until the run ends
		return end(nil)
	case x < s.pHang+s.pStuck:
		<-ctx.Done()
		sc.mu.Lock()
		at, from := sc.stopAt, sc.cancelFrom
		sc.mu.Unlock()
		switch {
		case at.IsZero():
			sc.early(fmt.Sprintf("%s: the context of the handler of %s ended while the subscriber ran: %v", sc.name, m.UUID, context.Cause(ctx)))
		case time.Since(at) < from-tolerance:
			sc.early(fmt.Sprintf("%s: the context of the handler of %s ended %v after stopping began, before the drain timeout %v", sc.name, m.UUID, time.Since(at), from))
		}
		return end(ctx.Err())
	case x < s.pHang+s.pStuck+s.pPanic:
		end(errors.New("panic"))
		panic("simulated handler panic")
	case x < s.pHang+s.pStuck+s.pPanic+s.pFail:
		switch rnd.IntN(4) {
		case 0:
			return end(herald.RetryAfter(errHandler, upTo(rnd, 300*time.Millisecond)))
		case 1:
			return end(herald.Permanent(errHandler))
		}
		return end(errHandler)
	case x < s.pHang+s.pStuck+s.pPanic+s.pFail+s.pSlow:
		time.Sleep(upTo(rnd, 2*s.drain)) // ignores ctx
	}
	return end(nil)
}

// --- helpers ---

func message(id, key string) *herald.Message {
	m := herald.NewMessage([]byte(id))
	m.UUID = id
	if key != "" {
		herald.SetKey(m, key)
	}
	return m
}

func chance(r *rand.Rand, p float64) bool { return p > 0 && r.Float64() < p }

func upTo(r *rand.Rand, max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	return time.Duration(r.Int64N(int64(max) + 1))
}
