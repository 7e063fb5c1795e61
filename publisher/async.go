package publisher

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/internal/errstyle"
)

// DefaultAsyncWindow bounds the messages PublishAsync keeps unacknowledged.
const DefaultAsyncWindow = 1024

// pending counts asynchronous publishes not yet answered, for Flush and
// Close.
type pending struct {
	window chan struct{} // a slot per unanswered message

	mu   sync.Mutex
	n    int
	idle chan struct{} // closed while n == 0
}

func newPending(window int) *pending {
	idle := make(chan struct{})
	close(idle)
	return &pending{window: make(chan struct{}, window), idle: idle}
}

// acquire takes a window slot, waiting while the window is full.
func (q *pending) acquire(ctx context.Context) error {
	select {
	case q.window <- struct{}{}:
	default:
		select {
		case q.window <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	q.mu.Lock()
	if q.n == 0 {
		q.idle = make(chan struct{})
	}
	q.n++
	q.mu.Unlock()
	return nil
}

// release gives a slot back.
func (q *pending) release() {
	q.mu.Lock()
	q.n--
	if q.n == 0 {
		close(q.idle)
	}
	q.mu.Unlock()
	<-q.window
}

// wait blocks until nothing is pending or ctx ends.
func (q *pending) wait(ctx context.Context) error {
	q.mu.Lock()
	idle := q.idle
	q.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type asyncDoneKey struct{}

// PublishAsync publishes msg to topic in the background and calls done
// with msg and the result once the broker answered: nil when it
// acknowledged msg. It returns at once, or waits while the window of
// unanswered messages (WithAsyncWindow) is full, until ctx ends; it
// returns an error, and done is not called, when msg was not taken
// (closed publisher, invalid message, ctx ended). done is called exactly
// once for every message taken, from another goroutine; it must not
// block. msg must not be changed until then. Publish middleware run
// before the message is handed to the backend; their result is the
// hand-over's, not the broker's answer.
//
// One goroutine can keep thousands of messages in flight this way; Flush
// waits for all of them.
func (p *Publisher) PublishAsync(ctx context.Context, topic string, msg *herald.Message, done func(*herald.Message, error)) error {
	if topic == "" {
		return fmt.Errorf("herald/%s: publish: topic is empty", p.cfg.Scheme)
	}
	if msg == nil {
		return errstyle.Errorf(p.cfg.Scheme, "publish to", topic, fmt.Errorf("message is nil"))
	}
	if done == nil {
		return errstyle.Errorf(p.cfg.Scheme, "publish to", topic, fmt.Errorf("done callback is nil"))
	}
	p.mu.RLock()
	closed := p.closed
	p.mu.RUnlock()
	if closed {
		return errstyle.Errorf(p.cfg.Scheme, "publish to", topic, herald.ErrClosed)
	}
	if err := p.async.acquire(ctx); err != nil {
		return errstyle.Errorf(p.cfg.Scheme, "publish to", topic, err)
	}
	var once atomic.Bool
	finish := func(err error) {
		if !once.CompareAndSwap(false, true) {
			return
		}
		p.async.release()
		done(msg, errstyle.Wrap(err, p.cfg.Scheme, "publish to", topic))
	}
	dctx := herald.ContextWithDelivery(context.WithValue(ctx, asyncDoneKey{}, finish), herald.Delivery{Backend: p.cfg.Scheme, Topic: topic})
	if err := p.publish(dctx, topic, msg); err != nil {
		if once.CompareAndSwap(false, true) { // not taken
			p.async.release()
			return errstyle.Wrap(err, p.cfg.Scheme, "publish to", topic)
		}
	}
	return nil
}

// Flush waits until every message given to PublishAsync was answered, or
// ctx ends.
func (p *Publisher) Flush(ctx context.Context) error {
	if err := p.async.wait(ctx); err != nil {
		return fmt.Errorf("herald/%s: flush: %w", p.cfg.Scheme, err)
	}
	return nil
}

// sendAsync is the innermost PublishFunc of PublishAsync: it hands msg
// to the adapter's pipelined path.
func (p *Publisher) sendAsync(ctx context.Context, topic string, msg *message.Message, done func(error)) error {
	if ap, ok := p.wm.(adapters.AsyncPublisher); ok {
		return ap.PublishAsync(ctx, topic, msg, done)
	}
	// An adapter without a pipelined path: publish in the background.
	go func() { done(p.sendSync(context.WithoutCancel(ctx), topic, msg)) }()
	return nil
}

// sendBatch publishes several messages through the adapter's pipelined
// path and reports which failed.
func (p *Publisher) sendBatch(ctx context.Context, ap adapters.AsyncPublisher, topic string, msgs []*message.Message) error {
	var (
		mu       sync.Mutex
		errs     = make([]error, len(msgs))
		answered = make([]bool, len(msgs))
		failed   bool
		left     atomic.Int64
		all      = make(chan struct{})
	)
	left.Store(int64(len(msgs)))
	settle := func(i int, err error) {
		mu.Lock()
		answered[i] = true
		if err != nil {
			errs[i], failed = err, true
		}
		mu.Unlock()
		if left.Add(-1) == 0 {
			close(all)
		}
	}
	for i, m := range msgs {
		if err := ap.PublishAsync(ctx, topic, m, func(err error) { settle(i, err) }); err != nil {
			settle(i, err)
		}
	}
	select {
	case <-all:
	case <-ctx.Done():
		mu.Lock()
		for i := range errs {
			if !answered[i] {
				errs[i] = fmt.Errorf("no answer before the context ended (the broker may still have it): %w", ctx.Err())
			}
		}
		snapshot := append([]error(nil), errs...)
		mu.Unlock()
		return &herald.BatchError{Errs: snapshot}
	}
	if !failed {
		return nil
	}
	return &herald.BatchError{Errs: errs}
}
