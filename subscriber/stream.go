package subscriber

import (
	"context"
	"sync"
	"time"

	"github.com/heraldkit/herald/adapters"
)

// The stream path: with an adapter that implements
// adapters.StreamSubscriber, a Subscribe call keeps ONE backend
// subscription with a window of unsettled messages. A reader goroutine
// receives deliveries and dispatches them to the workers; deliveries
// with the same key run one at a time, in order, and the others in
// parallel (keys.go). Workers settle through the stream, which
// acknowledges asynchronously and coalesces where the broker allows.

// item is a delivery on its way to a worker, with the stream it came
// from (a stream re-opened after a break gets new deliveries).
type item struct {
	d  adapters.Delivery
	st adapters.Stream
}

// streamRun is the running stream path of one Subscribe call.
type streamRun struct {
	r    *run
	ss   adapters.StreamSubscriber
	ctx  context.Context // the streams' lifetime context (with the status reporter)
	keys keyed

	mu  sync.Mutex
	cur adapters.Stream
}

// openStream makes the first stream; stopping cancels the setup.
func (r *run) openStream(ss adapters.StreamSubscriber, ctx context.Context) (*streamRun, error) {
	st, err := ss.Stream(ctx, r.topic, r.sub.opts.window)
	if err != nil {
		return nil, err
	}
	sr := &streamRun{r: r, ss: ss, ctx: ctx, cur: st}
	sr.keys.init(r.sub.opts.concurrency)
	return sr, nil
}

// start runs the reader and the workers; they stop when stop is closed.
func (sr *streamRun) start(hctx context.Context, stop <-chan struct{}, workers *sync.WaitGroup) {
	recvCtx, cancel := context.WithCancel(sr.ctx)
	workers.Add(1)
	go func() {
		defer workers.Done()
		defer sr.keys.closeWork()
		sr.read(recvCtx, stop)
	}()
	go func() {
		<-stop
		cancel()
	}()
	for i := 0; i < sr.r.sub.opts.concurrency; i++ {
		workers.Add(1)
		go func() {
			defer workers.Done()
			sr.work(hctx, stop)
		}()
	}
}

// read receives deliveries and dispatches them until stop is closed. A
// stream that fails is closed and opened again with backoff.
func (sr *streamRun) read(ctx context.Context, stop <-chan struct{}) {
	buf := make([]adapters.Delivery, 64)
	delay := time.Duration(0)
	for {
		sr.mu.Lock()
		st := sr.cur
		sr.mu.Unlock()
		n, err := st.Receive(ctx, buf)
		for i := 0; i < n; i++ {
			if !sr.keys.dispatch(item{d: buf[i], st: st}, stop) {
				return
			}
			buf[i] = adapters.Delivery{} // drop references
		}
		if err == nil {
			delay = 0
			continue
		}
		select {
		case <-stop:
			return
		default:
		}
		if ctx.Err() != nil {
			return
		}
		// The stream broke for good: report, then open a new one.
		sr.r.status.report(0, err)
		_ = st.Close(sr.ctx)
		for {
			delay = min(max(2*delay, 100*time.Millisecond), 5*time.Second)
			t := time.NewTimer(delay)
			select {
			case <-stop:
				t.Stop()
				return
			case <-t.C:
			}
			next, err := sr.ss.Stream(ctx, sr.r.topic, sr.r.sub.opts.window)
			if err == nil {
				sr.mu.Lock()
				sr.cur = next
				sr.mu.Unlock()
				sr.r.status.report(0, nil)
				break
			}
			if ctx.Err() != nil {
				return
			}
			sr.r.status.report(0, err)
		}
	}
}

// work handles deliveries until the reader stops or stop is closed; a
// delivery not yet started when stopping is left unsettled (the stream
// releases it for redelivery on Close).
func (sr *streamRun) work(ctx context.Context, stop <-chan struct{}) {
	for {
		it, ok := sr.keys.next(stop)
		if !ok {
			return
		}
		for {
			sr.handle(ctx, it)
			select {
			case <-stop:
				sr.keys.abandon(it.d.Key)
				return
			default:
			}
			if it, ok = sr.keys.after(it.d.Key); !ok {
				break
			}
		}
	}
}

// handle runs the handler on one delivery and settles it on its stream.
func (sr *streamRun) handle(ctx context.Context, it item) {
	d := it.d
	err := sr.r.process(ctx, d.Msg, d.Attempt, d.Attempt > 0)
	sr.r.settleMu.RLock()
	defer sr.r.settleMu.RUnlock()
	if sr.r.detached {
		return
	}
	if err == nil {
		sr.r.fails.forget(d.Msg.UUID)
		it.st.Ack(d)
		return
	}
	it.st.Nack(d, sr.r.nackDelay(d.Msg, err, d.Attempt, d.Attempt > 0))
}

// finish closes the stream once the drain is over: settlements made are
// flushed, unsettled deliveries released for redelivery.
func (sr *streamRun) finish() {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(sr.ctx), 5*time.Second)
	defer cancel()
	stopLimit := context.AfterFunc(sr.r.sub.shutdownLimit(), cancel)
	defer stopLimit()
	sr.mu.Lock()
	st := sr.cur
	sr.mu.Unlock()
	if err := st.Close(ctx); err != nil {
		sr.r.sub.opts.logger.Warn("herald: closing the stream failed; unflushed acks will be redelivered", sr.r.attrs("error", err)...)
	}
}
