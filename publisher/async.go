package publisher

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/internal/errstyle"
)

// DefaultAsyncWindow bounds the messages PublishAsync keeps unanswered.
const DefaultAsyncWindow = 1024

// PublishAsync publishes msg to topic in the background and calls done
// with msg and the result once the broker answered: nil when it
// acknowledged msg. It returns at once, or waits while the window of
// unanswered messages (WithAsyncWindow) is full, until ctx ends; it
// returns an error, and done is not called, when msg was not taken
// (closed publisher, invalid message, ctx ended, a publish middleware
// failed before anything was sent). done is called exactly once for every
// message taken, from another goroutine, before Flush returns; it must not
// block. msg is not changed, but must not be changed by the caller until
// done was called.
//
// Publish middleware run before the message is handed to the backend, on
// a copy of msg. When they drop the message, done gets nil; when they add
// messages, done is called once all of them were answered, with the
// first failure. The broker's answer is awaited within the publish
// timeout (WithPublishTimeout), whatever ctx's deadline: ctx only bounds
// the wait for room in the window.
//
// One goroutine can keep thousands of messages in flight this way; Flush
// waits for all of them.
func (p *Publisher) PublishAsync(ctx context.Context, topic string, msg *herald.Message, done func(*herald.Message, error)) error {
	if err := p.check(topic, []*herald.Message{msg}); err != nil {
		return err
	}
	if done == nil {
		return &herald.Error{Backend: p.cfg.Scheme, Op: "publish to", Topic: topic, Kind: herald.KindInvalid, Err: errors.New("done callback is nil")}
	}
	p.mu.RLock()
	closed := p.closed
	if !closed {
		p.inflight.Add(1) // Close waits for the hand-over below
	}
	p.mu.RUnlock()
	if closed {
		return &herald.Error{Backend: p.cfg.Scheme, Op: "publish to", Topic: topic, Kind: herald.KindClosed}
	}
	defer p.inflight.Done()
	if err := p.async.acquire(ctx); err != nil {
		return p.errorf(topic, err)
	}
	c := &asyncCall{p: p, topic: topic, msg: msg, done: done}
	c.left.Store(1) // the hand-over itself; released by seal
	dctx := p.deadlines.get()
	if len(p.mws) == 0 {
		c.left.Add(1)
		if err := p.topic.Send(dctx, topic, msg, c.answer); err != nil {
			p.async.release()
			return err
		}
		c.sent.Add(1)
		c.seal(nil)
		return nil
	}
	c.dctx = dctx
	send := herald.ChainPublish(c.send, p.mws...)
	err := send(herald.ContextWithDelivery(ctx, herald.Delivery{Backend: p.cfg.Scheme, Topic: topic}), topic, copyMessage(msg))
	if err != nil && c.sent.Load() == 0 {
		p.async.release()
		return errstyle.Wrap(err, p.cfg.Scheme, "publish to", topic)
	}
	c.seal(err)
	return nil
}

// asyncCall is one PublishAsync: the messages its middleware sent, and
// the caller's done, called once all were answered.
type asyncCall struct {
	p     *Publisher
	topic string
	msg   *herald.Message
	done  func(*herald.Message, error)
	dctx  context.Context // the deadline the messages are sent with

	left atomic.Int64 // sends unanswered, plus 1 until sealed
	sent atomic.Int64
	mu   sync.Mutex
	err  error // the first failure
}

// send is the innermost PublishFunc of one PublishAsync with middleware.
// It ignores the middleware's ctx for the deadline (it may be one without
// any): every message is sent with the publisher's.
func (c *asyncCall) send(_ context.Context, topic string, msgs ...*herald.Message) error {
	var errs []error
	for _, m := range msgs {
		if m == nil {
			continue
		}
		c.left.Add(1)
		if err := c.p.topic.Send(c.dctx, topic, m, c.answer); err != nil {
			c.left.Add(-1)
			errs = append(errs, err)
			continue
		}
		c.sent.Add(1)
	}
	return errors.Join(errs...)
}

// answer is the driver's done for one message.
func (c *asyncCall) answer(err error) {
	if err != nil {
		c.mu.Lock()
		if c.err == nil {
			c.err = err
		}
		c.mu.Unlock()
	}
	if c.left.Add(-1) == 0 {
		c.finish()
	}
}

// seal ends the hand-over: err is the middleware chain's result.
func (c *asyncCall) seal(err error) {
	if err != nil {
		c.mu.Lock()
		if c.err == nil {
			c.err = err
		}
		c.mu.Unlock()
	}
	if c.left.Add(-1) == 0 {
		if c.sent.Load() == 0 && len(c.p.mws) > 0 {
			go c.finish() // dropped by a middleware: done from another goroutine
			return
		}
		c.finish()
	}
}

// finish calls the caller's done, then frees the window slot, so Flush
// returns only after done returned.
func (c *asyncCall) finish() {
	c.mu.Lock()
	err := c.err
	c.mu.Unlock()
	c.done(c.msg, errstyle.Wrap(err, c.p.cfg.Scheme, "publish to", c.topic))
	c.p.async.release()
}

// Flush waits until every message given to PublishAsync was answered and
// its done returned, or ctx ends.
func (p *Publisher) Flush(ctx context.Context) error {
	if err := p.async.wait(ctx); err != nil {
		return fmt.Errorf("herald/%s: flush: %w", p.cfg.Scheme, err)
	}
	return nil
}

// window is the async window: a slot per unanswered PublishAsync.
type window struct {
	slots chan struct{}

	mu   sync.Mutex
	n    int
	idle chan struct{} // closed while n == 0
}

func newWindow(size int) *window {
	idle := make(chan struct{})
	close(idle)
	return &window{slots: make(chan struct{}, size), idle: idle}
}

// acquire takes a slot, waiting while the window is full.
func (w *window) acquire(ctx context.Context) error {
	select {
	case w.slots <- struct{}{}:
	default:
		select {
		case w.slots <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	w.mu.Lock()
	if w.n == 0 {
		w.idle = make(chan struct{})
	}
	w.n++
	w.mu.Unlock()
	return nil
}

// release gives a slot back.
func (w *window) release() {
	w.mu.Lock()
	w.n--
	if w.n == 0 {
		close(w.idle)
	}
	w.mu.Unlock()
	<-w.slots
}

// wait blocks until nothing is pending or ctx ends.
func (w *window) wait(ctx context.Context) error {
	w.mu.Lock()
	idle := w.idle
	w.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
