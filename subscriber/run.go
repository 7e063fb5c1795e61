package subscriber

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/internal/backoff"
	"github.com/heraldkit/herald/internal/errstyle"
)

// run is one Subscribe call. The path of a message, from the driver to the
// handler's settlement:
//
//	stream.Receive (reader, read) -> keys.dispatch -> worker (work) ->
//	handle: Valid? -> handler chain -> Ack | redeliver (redeliver.go)
//
// and, for SubscribeBatch, from the reader to a lane (batchlanes.go),
// which cuts batches, to handleBatch and settleBatch (batchsettle.go).
//
// The run keeps ONE driver stream with a window of unsettled messages; a
// reader goroutine receives deliveries and dispatches them to the
// workers, deliveries with the same key one at a time in order (keys.go).
// A stream that breaks is closed and opened again (reopen). Stopping
// (drain.go) stops taking messages, waits for in-flight handlers, and
// detaches those that outlive the drain so that they settle nothing.
type run struct {
	sub     *Subscriber
	topic   string
	handler herald.Handler  // per message (Subscribe); nil with batch
	batch   *batching       // SubscribeBatch; nil per message
	window  int             // the stream window
	base    context.Context // handler contexts derive from it: values, no cancel
	status  *status
	fails   failures // per message ID, for RedeliverBroker without a count
	keys    keyed
	held    holds

	mu     sync.Mutex
	cur    adapters.Stream
	gen    uint64 // bumped at every break and open: which stream proved calls are about
	shaky  bool   // the current stream was opened after a break and has not proved itself
	breaks int    // breaks since a stream last proved itself: the reopening backs off across them

	inflight atomic.Int64 // handlers running
	settleMu sync.RWMutex // held for reading while settling
	detached bool         // set under settleMu: late handlers settle nothing

	warnMu   sync.Mutex // rate-limits warnings about failing handlers
	lastWarn time.Time
	quiet    int
}

// item is a delivery on its way to a worker, with the stream it came from
// (a stream opened again after a break hands out new deliveries) and the
// number of times this subscriber handled it.
type item struct {
	d       adapters.Received
	st      adapters.Stream
	handled int
}

func newRun(s *Subscriber, topic string, ctx context.Context) *run {
	d := herald.Delivery{Backend: s.cfg.Scheme, Topic: topic, Group: s.cfg.Group}
	r := &run{
		sub:    s,
		topic:  topic,
		window: s.window,
		base:   herald.ContextWithDelivery(context.WithoutCancel(ctx), d),
	}
	r.status = newStatus(r, s.opts.recovery)
	r.keys.init(s.opts.concurrency)
	return r
}

// serve opens the stream, runs the reader and the workers until ctx is
// done, the subscriber closes or the subscription is given up, then
// drains.
func (r *run) serve(ctx context.Context) error {
	o := r.sub.opts
	defer r.status.stop()
	// stopped ends when the caller's ctx does or the subscriber closes.
	stopped, cancelStopped := context.WithCancel(ctx)
	defer cancelStopped()
	defer context.AfterFunc(r.sub.stopping, cancelStopped)()

	st, err := r.open(stopped)
	if err != nil {
		if stopped.Err() != nil {
			return r.stopErr() // stopped while subscribing: nothing was handled
		}
		return errstyle.Wrap(err, r.sub.cfg.Scheme, "subscribe to", r.topic)
	}
	r.cur = st
	if o.ready != nil {
		o.ready(r.topic)
	}

	// Handlers see cancellation only when the drain timeout expires.
	hctx, cancelHandlers := context.WithCancel(r.base)
	defer cancelHandlers()
	stop := make(chan struct{})
	recvCtx, cancelRecv := context.WithCancel(context.Background())
	var workers sync.WaitGroup
	workers.Add(1 + o.concurrency)
	reading := make(chan struct{})
	go func() {
		defer workers.Done()
		defer close(reading)
		r.read(recvCtx, stop)
	}()
	for i := range o.concurrency {
		go func() {
			defer workers.Done()
			if r.batch != nil {
				r.batch.lanes[i].loop(hctx, stop)
			} else {
				r.work(hctx, stop)
			}
		}()
	}

	select {
	case <-stopped.Done():
	case <-r.status.gaveUp:
		err = r.status.final
		o.logger.Error("herald: subscription given up", r.attrs("error", err)...)
	}
	close(stop)
	cancelRecv()
	r.held.stop()
	r.drain(&workers, cancelHandlers)
	r.held.wait()
	<-reading // it returns promptly once stop is closed; then r.cur is final
	r.finish()
	return err
}

// open opens a stream on the topic; ctx bounds the opening.
func (r *run) open(ctx context.Context) (adapters.Stream, error) {
	return r.sub.sub.Open(ctx, r.topic, adapters.StreamOptions{Window: r.window, Status: r.status.reporter()})
}

// stream is the current stream.
func (r *run) stream() adapters.Stream {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur
}

// current is the current stream and its generation.
func (r *run) current() (adapters.Stream, uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur, r.gen
}

// stableAfter is how long a stream opened after a break must work
// (receive without breaking) before the outage counts as over, unless it
// delivers first. A stream that opens and breaks at once, again and
// again, is one outage: logged once, backed off, given up after the
// recovery timeout.
const stableAfter = time.Second

// proved ends the outage once the stream of generation gen delivered or
// stayed up for stableAfter.
func (r *run) proved(gen uint64, stop <-chan struct{}) {
	select {
	case <-stop:
		return
	default:
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gen != gen || !r.shaky {
		return
	}
	r.shaky, r.breaks = false, 0
	r.status.report(nil)
}

// read receives deliveries and dispatches them until stop is closed. A
// stream that breaks for good is closed and opened again with backoff.
func (r *run) read(ctx context.Context, stop <-chan struct{}) {
	buf := make([]adapters.Received, dispatchBuffer)
	for {
		st, gen := r.current()
		n, err := st.Receive(ctx, buf)
		if n > 0 {
			r.proved(gen, stop)
		}
		for i := 0; i < n; i++ {
			if !r.dispatch(item{d: buf[i], st: st}, stop) {
				return
			}
			buf[i] = adapters.Received{} // drop references
		}
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return
		}
		if !r.reopen(ctx, st, err, stop) {
			return
		}
	}
}

// dispatch hands it to the workers (Subscribe) or to its lane
// (SubscribeBatch); false when stop was closed first.
func (r *run) dispatch(it item, stop <-chan struct{}) bool {
	if r.batch != nil {
		r.batch.add(it)
		return true
	}
	return r.keys.dispatch(it, stop)
}

// reopen replaces a broken stream, with backoff, until it succeeds (true)
// or stop is closed. Deliveries of the old stream still queued are skipped
// (not Valid) or settle nothing: the broker redelivers them.
func (r *run) reopen(ctx context.Context, old adapters.Stream, cause error, stop <-chan struct{}) bool {
	r.mu.Lock()
	r.gen++
	r.shaky = false
	r.breaks++
	breaks := r.breaks
	r.mu.Unlock()
	r.status.report(cause)
	closeCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	_ = old.Close(closeCtx)
	cancel()
	for attempt := breaks; ; attempt++ {
		t := time.NewTimer(backoff.Exp(attempt, 100*time.Millisecond, 5*time.Second))
		select {
		case <-stop:
			t.Stop()
			return false
		case <-t.C:
		}
		next, err := r.open(ctx)
		if err == nil && ctx.Err() != nil {
			_ = next.Close(context.Background()) // opened as the run stopped
			return false
		}
		if err == nil {
			r.mu.Lock()
			r.cur = next
			r.gen++
			gen := r.gen
			r.shaky = true
			r.mu.Unlock()
			time.AfterFunc(stableAfter, func() { r.proved(gen, stop) })
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		r.status.report(err)
	}
}

// work handles deliveries until stop is closed. A delivery not yet
// started when stopping is left unsettled (the stream releases it for
// redelivery on Close).
func (r *run) work(ctx context.Context, stop <-chan struct{}) {
	for {
		it, ok := r.keys.next(stop)
		if !ok {
			return
		}
		for {
			held := r.handle(ctx, it, stop)
			select {
			case <-stop:
				if !held {
					r.keys.abandon(it.d.Key)
				}
				return
			default:
			}
			if held {
				break // its key stays busy until it is handled again
			}
			if it, ok = r.keys.after(it.d.Key); !ok {
				break
			}
		}
	}
}

// finish closes the stream once the drain is over: settlements made are
// flushed, unsettled deliveries released for redelivery.
func (r *run) finish() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stopLimit := context.AfterFunc(r.sub.shutdownLimit(), cancel)
	defer stopLimit()
	if err := r.stream().Close(ctx); err != nil {
		r.sub.opts.logger.Warn("herald: closing the stream failed; unflushed acks will be redelivered", r.attrs("error", err)...)
	}
}

// stopErr is what Subscribe returns when it was stopped before it
// started: nil when its ctx ended, ErrClosed when the subscriber closed.
func (r *run) stopErr() error {
	if r.sub.stopping.Err() != nil {
		return r.sub.errorf(r.topic, herald.ErrClosed)
	}
	return nil
}

// attrs are the log attributes naming this subscription, then kv.
func (r *run) attrs(kv ...any) []any {
	return append([]any{"backend", r.sub.cfg.Scheme, "topic", r.topic}, kv...)
}

// hook passes err to the error hook, if any.
func (r *run) hook(err error) {
	if fn := r.sub.opts.onError; fn != nil {
		fn(err)
	}
}
