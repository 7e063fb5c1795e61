package subscriber

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// run is one Subscribe call: n Watermill subscriptions, each with a worker.
type run struct {
	sub     *Subscriber
	topic   string
	handler herald.Handler
	base    context.Context // handler contexts derive from it: values, no cancel
}

// serve subscribes, runs the workers until ctx is done or the subscriber
// closes, then drains. A subscription that ends on its own is replaced.
func (r *run) serve(ctx context.Context) error {
	o := r.sub.opts
	// The Watermill subscriptions outlive ctx: they are cancelled only after
	// in-flight handlers finished and acked.
	wmCtx, stopWM := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWM()
	// Handlers see cancellation only when the drain timeout expires.
	hctx, cancelHandlers := context.WithCancel(r.base)
	defer cancelHandlers()

	chans := make([]<-chan *message.Message, 0, o.concurrency)
	for i := 0; i < o.concurrency; i++ {
		ch, err := r.sub.wm.Subscribe(wmCtx, r.topic)
		if err != nil {
			return fmt.Errorf("herald: subscribe to %q on %s: %w", r.topic, r.sub.cfg.Scheme, err)
		}
		chans = append(chans, ch)
	}
	if o.ready != nil {
		o.ready(r.topic)
	}

	stop := make(chan struct{})
	var workers sync.WaitGroup
	for _, ch := range chans {
		workers.Add(1)
		go func() {
			defer workers.Done()
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
				ch = r.resubscribe(wmCtx, stop, delay)
			}
		}()
	}

	select {
	case <-ctx.Done():
	case <-r.sub.closing:
	}
	close(stop)
	r.drain(&workers, cancelHandlers)
	return nil
}

// resubscribe replaces a subscription whose channel closed unexpectedly
// (the adapter gave up on a broken connection), retrying with backoff
// until it succeeds or stop is closed (then it returns nil).
func (r *run) resubscribe(ctx context.Context, stop <-chan struct{}, delay time.Duration) <-chan *message.Message {
	log := r.sub.opts.logger
	log.Warn("herald: subscription ended unexpectedly; subscribing again", "topic", r.topic, "backend", r.sub.cfg.Scheme, "in", delay)
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
			return ch
		}
		delay = min(2*delay, 5*time.Second)
		log.Error("herald: subscribing again failed", "topic", r.topic, "backend", r.sub.cfg.Scheme, "error", err, "retry_in", delay)
	}
}

// drain waits for the workers, cancelling handler contexts when the drain
// timeout expires and giving up a moment later: messages still in flight
// then stay unacked and are redelivered.
func (r *run) drain(workers *sync.WaitGroup, cancelHandlers context.CancelFunc) {
	done := make(chan struct{})
	go func() { workers.Wait(); close(done) }()
	timeout := r.sub.opts.drain
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
		return
	case <-t.C:
	}
	r.sub.opts.logger.Warn("herald: drain timeout expired; cancelling handlers", "topic", r.topic, "timeout", timeout)
	cancelHandlers()
	t.Reset(time.Second)
	select {
	case <-done:
	case <-t.C:
		r.sub.opts.logger.Error("herald: handlers ignored cancellation; their messages stay unacked", "topic", r.topic)
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

// handle runs the handler on msg and settles it.
func (r *run) handle(ctx context.Context, msg *message.Message) {
	if n, ok := adapters.DeliveryCount(msg); ok {
		d, _ := herald.DeliveryFromContext(ctx)
		d.Attempt = n
		ctx = herald.ContextWithDelivery(ctx, d)
	}
	if err := r.call(ctx, msg); err != nil {
		r.sub.opts.logger.Debug("herald: handler failed; message will be redelivered",
			"topic", r.topic, "message_id", msg.UUID, "error", err)
		if d, ok := herald.RetryDelay(err); ok {
			adapters.SetNackDelay(msg, d)
		}
		msg.Nack()
		return
	}
	msg.Ack()
}

// call runs the handler, turning a panic into an error.
func (r *run) call(ctx context.Context, msg *message.Message) (err error) {
	defer func() {
		if p := recover(); p != nil {
			stack := debug.Stack()
			r.sub.opts.logger.Error("herald: handler panicked", "topic", r.topic, "message_id", msg.UUID,
				"panic", fmt.Sprint(p), slog.String("stack", string(stack)))
			err = &herald.PanicError{Value: p, Stack: stack}
		}
	}()
	return r.handler.Handle(ctx, msg)
}
