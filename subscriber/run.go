package subscriber

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/internal/errstyle"
)

// run is one Subscribe call: n backend subscriptions, each with a worker.
//
// The path of a message: the adapter sends it on a subscription's channel;
// the worker (work) hands it to handle, which gives the handler chain a
// view of it (settle.go) and settles the original by the handler's return
// value: Ack, or Nack with a delay. Stopping (drain.go) stops taking
// messages, waits for in-flight handlers, and detaches those that outlive
// the drain so that they settle nothing.
type run struct {
	sub     *Subscriber
	topic   string
	handler herald.Handler
	base    context.Context // handler contexts derive from it: values, no cancel
	status  *status
	fails   failures

	inflight atomic.Int64 // handlers running
	settleMu sync.RWMutex // held for reading while settling
	detached bool         // set under settleMu: late handlers settle nothing

	warnMu   sync.Mutex // rate-limits warnings about failing handlers
	lastWarn time.Time
	quiet    int
}

func newRun(s *Subscriber, topic string, h herald.Handler, ctx context.Context) *run {
	d := herald.Delivery{Backend: s.cfg.Scheme, Topic: topic, Group: s.cfg.Group}
	r := &run{
		sub:     s,
		topic:   topic,
		handler: h,
		base:    herald.ContextWithDelivery(context.WithoutCancel(ctx), d),
	}
	r.status = newStatus(r, s.opts.recovery)
	return r
}

// serve subscribes, runs the workers until ctx is done, the subscriber
// closes or the subscription is given up, then drains.
func (r *run) serve(ctx context.Context) error {
	o := r.sub.opts
	defer r.status.stop()
	// stopped ends when the caller's ctx does or the subscriber closes.
	stopped, cancelStopped := context.WithCancel(ctx)
	defer cancelStopped()
	defer context.AfterFunc(r.sub.stopping, cancelStopped)()

	// The backend subscriptions outlive ctx: they are cancelled only after
	// in-flight handlers finished and were settled. While they are being
	// made, stopping cancels them.
	wmCtx, stopWM := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWM()
	// Handlers see cancellation only when the drain timeout expires.
	hctx, cancelHandlers := context.WithCancel(r.base)
	defer cancelHandlers()

	stop := make(chan struct{})
	var workers sync.WaitGroup
	var finish func()
	unwatch := context.AfterFunc(stopped, stopWM)
	if ss, ok := r.sub.wm.(adapters.StreamSubscriber); ok {
		sr, err := r.openStream(ss, adapters.ContextWithStatus(wmCtx, r.status.reporter(0)))
		if !unwatch() {
			if err == nil {
				sr.finish()
			}
			return r.stopErr() // stopped while subscribing: nothing was handled
		}
		if err != nil {
			return errstyle.Wrap(err, r.sub.cfg.Scheme, "subscribe to", r.topic)
		}
		if o.ready != nil {
			o.ready(r.topic)
		}
		sr.start(hctx, stop, &workers)
		finish = sr.finish
	} else {
		chans, subCtxs, err := r.subscribeAll(wmCtx)
		if !unwatch() {
			return r.stopErr()
		}
		if err != nil {
			return errstyle.Wrap(err, r.sub.cfg.Scheme, "subscribe to", r.topic)
		}
		if o.ready != nil {
			o.ready(r.topic)
		}
		for i, ch := range chans {
			workers.Add(1)
			go func() {
				defer workers.Done()
				r.worker(hctx, subCtxs[i], i, ch, stop)
			}()
		}
	}

	var err error
	select {
	case <-stopped.Done():
	case <-r.status.gaveUp:
		err = r.status.final
		o.logger.Error("herald: subscription given up", r.attrs("error", err)...)
	}
	close(stop)
	r.drain(&workers, cancelHandlers)
	if finish != nil {
		finish()
	}
	return err
}

// subscribeAll makes one Watermill subscription per worker (the fallback
// for adapters without a stream): they compete for the topic's messages.
func (r *run) subscribeAll(wmCtx context.Context) ([]<-chan *message.Message, []context.Context, error) {
	n := r.sub.opts.concurrency
	subCtxs := make([]context.Context, n)
	chans := make([]<-chan *message.Message, n)
	for i := range chans {
		subCtxs[i] = adapters.ContextWithStatus(wmCtx, r.status.reporter(i))
		ch, err := r.sub.wm.Subscribe(subCtxs[i], r.topic)
		if err != nil {
			return nil, nil, err
		}
		chans[i] = ch
	}
	return chans, subCtxs, nil
}

// stopErr is what Subscribe returns when it was stopped before it
// started: nil when its ctx ended, ErrClosed when the subscriber closed.
func (r *run) stopErr() error {
	if r.sub.stopping.Err() != nil {
		return r.sub.errorf(r.topic, herald.ErrClosed)
	}
	return nil
}

// worker handles messages from ch until stop is closed. When ch closes on
// its own (the adapter gave up on its connection), the subscription is
// made again with backoff.
func (r *run) worker(hctx, subCtx context.Context, i int, ch <-chan *message.Message, stop <-chan struct{}) {
	delay := time.Duration(0)
	for ch != nil {
		since := time.Now()
		if r.work(hctx, ch, stop) {
			return
		}
		// Back off when subscriptions keep ending quickly.
		if time.Since(since) > 5*time.Second {
			delay = 0
		}
		delay = min(max(2*delay, 100*time.Millisecond), 5*time.Second)
		r.status.report(i, errors.New("the backend ended the subscription"))
		ch = r.resubscribe(subCtx, i, stop, delay)
	}
}

// resubscribe replaces a subscription whose channel closed unexpectedly,
// retrying with backoff until it succeeds or stop is closed (then it
// returns nil).
func (r *run) resubscribe(ctx context.Context, i int, stop <-chan struct{}, delay time.Duration) <-chan *message.Message {
	for {
		t := time.NewTimer(delay)
		select {
		case <-stop:
			t.Stop()
			return nil
		case <-t.C:
		}
		ch, err := r.sub.wm.Subscribe(ctx, r.topic)
		if err == nil {
			r.status.report(i, nil)
			return ch
		}
		r.status.report(i, err)
		delay = min(2*delay, 5*time.Second)
		r.sub.opts.logger.Debug("herald: subscribing again failed", r.attrs("error", err, "retry_in", delay)...)
	}
}

// work handles messages from ch until stop is closed (true) or ch is
// closed (false). A message already received is always finished.
func (r *run) work(ctx context.Context, ch <-chan *message.Message, stop <-chan struct{}) bool {
	for {
		select {
		case <-stop:
			return true
		default:
		}
		select {
		case <-stop:
			return true
		case msg, ok := <-ch:
			if !ok {
				select {
				case <-stop:
					return true
				default:
					return false
				}
			}
			r.handle(ctx, msg)
		}
	}
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

// errorf formats an error about this subscription.
func (r *run) errorf(format string, args ...any) error {
	return r.sub.errorf(r.topic, fmt.Errorf(format, args...))
}
