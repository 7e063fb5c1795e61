package sim_test

import (
	"fmt"
	"sync"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/internal/sim"
)

// The test's own events in the broker's trace.
const (
	evPublish   sim.What = "publish"        // a Publish or PublishAsync call (Msg: first message, Note: op)
	evReturned  sim.What = "publish-return" // it returned (Err)
	evDone      sim.What = "done"           // PublishAsync's done was called (Msg, Err)
	evDoneEnd   sim.What = "done-return"    // and returned
	evLate      sim.What = "mw-late"        // the middleware returned and will call next later
	evDropped   sim.What = "mw-drop"        // the middleware dropped Msg
	evAdded     sim.What = "mw-add"         // the middleware added Msg after Note
	evRecontext sim.What = "mw-ctx"         // the middleware passed a new context on (Note: which)
	evFlush     sim.What = "flush"          // Flush called (Note: publisher)
	evFlushed   sim.What = "flush-return"   // Flush returned (Err)
	evHandle    sim.What = "handle"         // a handler started (Msg, Key, Del, Note)
	evHandled   sim.What = "handled"        // it returned (Err: nil for success)
	evStop      sim.What = "stop"           // a Close, Shutdown or cancel (Note)
	evSubscribe sim.What = "subscribe"      // a Subscribe call returned (Err)
	evCalm      sim.What = "calm"           // the faults stop
	evBroken    sim.What = "BROKEN"         // an invariant failed (Note)
)

// pubRec is what happened to one message the test published.
type pubRec struct {
	id, key   string
	g, seq    int    // publishing goroutine and its sequence number
	op        string // "publish", "batch" or "async"
	pub       int    // the publisher
	callSeq   int    // trace Seq of the call
	returned  bool
	err       error // Publish's or PublishAsync's result
	alone     bool  // the only message of its call
	dones     int
	doneErr   error
	doneSeq   int // trace Seq of the first done
	doneEnd   int // trace Seq when the first done returned
	returnSeq int
	dropped   bool // the middleware dropped it
	late      bool // the middleware passed it on after returning
	detached  bool // the middleware passed its call on with context.Background()
	extras    []string
}

// flushRec is one Flush call.
type flushRec struct {
	pub      int
	startSeq int
	endSeq   int
	err      error
}

// recorder keeps what the test did, beside the trace.
type recorder struct {
	tr *sim.Trace

	mu       sync.Mutex
	pubs     map[string]*pubRec
	order    []*pubRec
	extraOf  map[string]string // an added message -> the one it was added after
	flushes  []*flushRec
	handles  map[string]int // handler invocations per message ID
	attempts map[int]int    // Delivery.Attempt per evHandle Seq
	closedAt map[int]int    // publisher -> Seq when its Close or Shutdown returned
	problems []string
}

func newRecorder(tr *sim.Trace) *recorder {
	return &recorder{tr: tr, pubs: map[string]*pubRec{}, extraOf: map[string]string{}, handles: map[string]int{}, attempts: map[int]int{}, closedAt: map[int]int{}}
}

// broken records a failed invariant, in the trace as well.
func (r *recorder) broken(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.tr.Add(sim.Event{What: evBroken, Note: msg})
	r.mu.Lock()
	r.problems = append(r.problems, fmt.Sprintf("%v: %s", r.tr.Since(), msg))
	r.mu.Unlock()
}

// published registers the messages of a call before it is made.
func (r *recorder) published(op string, pub, g int, recs ...*pubRec) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range recs {
		p.op, p.pub, p.g = op, pub, g
		p.alone = len(recs) == 1
		r.pubs[p.id] = p
		r.order = append(r.order, p)
	}
	seq := r.tr.Add(sim.Event{What: evPublish, Msg: recs[0].id, Key: recs[0].key, Note: fmt.Sprintf("%s of %d by g%d on publisher %d", op, len(recs), g, pub)})
	for _, p := range recs {
		p.callSeq = seq
	}
}

// pubClosed records that publisher pub's Close or Shutdown returned.
func (r *recorder) pubClosed(pub int) {
	seq := r.tr.Add(sim.Event{What: evStop, Note: fmt.Sprintf("publisher %d closed", pub)})
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closedAt[pub] = seq
}

// returned records a call's result.
func (r *recorder) returned(err error, took time.Duration, recs ...*pubRec) {
	seq := r.tr.Add(sim.Event{What: evReturned, Msg: recs[0].id, Err: err, Note: "after " + took.String()})
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range recs {
		p.returned, p.err, p.returnSeq = true, err, seq
	}
}

// done records a PublishAsync done.
func (r *recorder) done(id string, err error) {
	seq := r.tr.Add(sim.Event{What: evDone, Msg: id, Err: err})
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pubs[id]
	p.dones++
	if p.dones == 1 {
		p.doneErr, p.doneSeq = err, seq
	}
}

// doneReturned records that id's done returned.
func (r *recorder) doneReturned(id string) {
	seq := r.tr.Add(sim.Event{What: evDoneEnd, Msg: id})
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.pubs[id]; p.doneEnd == 0 {
		p.doneEnd = seq
	}
}

// late records that the middleware passes msgs on after returning.
func (r *recorder) late(msgs []*herald.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range msgs {
		if p := r.pubs[m.UUID]; p != nil {
			p.late = true
		}
	}
	r.tr.Add(sim.Event{What: evLate, Msg: msgs[0].UUID, Note: fmt.Sprintf("%d messages", len(msgs))})
}

// recontexted records that the middleware passed the call whose first
// message is id on with a new context (how: its kind).
func (r *recorder) recontexted(id, how string) {
	r.tr.Add(sim.Event{What: evRecontext, Msg: id, Note: how})
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.pubs[id]; p != nil && how == "Background" {
		p.detached = true
	}
}

// isDetached reports whether the middleware passed the call of id on
// with context.Background().
func (r *recorder) isDetached(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pubs[id]
	return p != nil && p.detached
}

// attempt records the Attempt a handler saw.
func (r *recorder) attempt(seq, attempt int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts[seq] = attempt
}

// dropped records that the middleware dropped id.
func (r *recorder) dropped(id string) {
	r.tr.Add(sim.Event{What: evDropped, Msg: id})
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.pubs[id]; p != nil {
		p.dropped = true
	}
}

// added records that the middleware added extra after id.
func (r *recorder) added(id, extra string) {
	r.tr.Add(sim.Event{What: evAdded, Msg: extra, Note: "after " + id})
	r.mu.Lock()
	defer r.mu.Unlock()
	r.extraOf[extra] = id
	if p := r.pubs[id]; p != nil {
		p.extras = append(p.extras, extra)
	}
}

// flush records a Flush call; end records its return.
func (r *recorder) flush(pub int) *flushRec {
	f := &flushRec{pub: pub}
	f.startSeq = r.tr.Add(sim.Event{What: evFlush, Note: fmt.Sprintf("publisher %d", pub)})
	r.mu.Lock()
	r.flushes = append(r.flushes, f)
	r.mu.Unlock()
	return f
}

func (r *recorder) flushed(f *flushRec, err error) {
	seq := r.tr.Add(sim.Event{What: evFlushed, Err: err, Note: fmt.Sprintf("publisher %d", f.pub)})
	r.mu.Lock()
	f.endSeq, f.err = seq, err
	r.mu.Unlock()
}

// handle counts an invocation of a handler on id and returns its number
// (1 for the first).
func (r *recorder) handle(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.handles[id]++
	return r.handles[id]
}

func (r *recorder) problemList() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.problems...)
}
