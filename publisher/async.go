package publisher

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
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
// first failure. A middleware that calls next after it returned (from a
// goroutine of its own) gets an error wrapping herald.ErrInvalid: the
// call's result was decided when it returned. The broker's answer is
// awaited within the publish timeout (WithPublishTimeout), whatever
// ctx's deadline: ctx only bounds the wait for room in the window.
//
// One goroutine can keep thousands of messages in flight this way; Flush
// waits for all of them.
func (p *Publisher) PublishAsync(ctx context.Context, topic string, msg *herald.Message, done func(*herald.Message, error)) error {
	return p.publishAsync(ctx, topic, adapters.SendOptions{}, msg, done)
}

// PublishAsyncWith is PublishAsync with broker properties for msg, as
// PublishWith sets them (see herald.Properties); a field the backend
// does not carry is refused before anything is sent, and done is not
// called.
func (p *Publisher) PublishAsyncWith(ctx context.Context, topic string, props herald.Properties, msg *herald.Message, done func(*herald.Message, error)) error {
	if err := p.checkProperties(topic, props); err != nil {
		return err
	}
	return p.publishAsync(ctx, topic, adapters.SendOptions{Properties: props}, msg, done)
}

// publishAsync is PublishAsync with the send options o.
func (p *Publisher) publishAsync(ctx context.Context, topic string, o adapters.SendOptions, msg *herald.Message, done func(*herald.Message, error)) error {
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
	dctx := p.deadlines.get()
	if len(p.mws) == 0 {
		c := callPool.Get().(*asyncCall)
		c.p, c.topic, c.msg, c.done, c.pooled = p, topic, msg, done, true
		c.left.Store(2) // the hand-over, released by seal, and the message
		if err := p.topic.Send(dctx, topic, msg, o, c.answerFn); err != nil {
			c.recycle() // done is not called: nothing holds c
			p.async.release()
			return err
		}
		c.sent.Add(1)
		c.seal(nil)
		return nil
	}
	c := &asyncCall{p: p, topic: topic, msg: msg, done: done, dctx: dctx, o: o}
	c.answerFn = c.answer
	c.left.Store(1) // the hand-over itself; released by seal
	send := herald.ChainPublish(c.send, p.mws...)
	err := send(herald.ContextWithDelivery(ctx, herald.Delivery{Backend: p.cfg.Scheme, Topic: topic}), topic, copyMessage(msg))
	if err != nil && c.sent.Load() == 0 && c.refuse() {
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
	dctx  context.Context      // the deadline the messages are sent with
	o     adapters.SendOptions // with middleware: what every message is sent with

	left     atomic.Int64 // sends unanswered, plus 1 until sealed
	sent     atomic.Int64
	mu       sync.Mutex
	sealed   bool        // the middleware chain returned: a later next is refused
	err      error       // the first failure
	answerFn func(error) // c.answer, bound once: the driver's done
	pooled   bool        // from callPool: recycled once finished
}

// callPool recycles the asyncCalls of PublishAsync without middleware,
// each with its answer func bound once, so that a message costs no
// allocation of its own here. A call goes back once its done returned:
// the driver calls its answer exactly once (the contract) and, without
// middleware, nothing else holds it.
var callPool sync.Pool

func init() {
	callPool.New = func() any {
		c := &asyncCall{}
		c.answerFn = c.answer
		return c
	}
}

// recycle clears c and puts it back in callPool.
func (c *asyncCall) recycle() {
	c.p, c.topic, c.msg, c.done, c.err, c.sealed, c.pooled, c.o = nil, "", nil, nil, nil, false, false, adapters.SendOptions{}
	c.sent.Store(0)
	c.left.Store(0)
	callPool.Put(c)
}

// send is the innermost PublishFunc of one PublishAsync with middleware.
// It ignores the middleware's ctx for the deadline (it may be one without
// any): every message is sent with the publisher's. A next called after
// the chain returned (from a goroutine of the middleware) is refused: the
// call's result was decided when the chain returned, and done may have
// been called already.
func (c *asyncCall) send(_ context.Context, topic string, msgs ...*herald.Message) error {
	c.mu.Lock()
	if c.sealed {
		c.mu.Unlock()
		return &herald.Error{Backend: c.p.cfg.Scheme, Op: "publish to", Topic: topic, Kind: herald.KindInvalid,
			Err: errors.New("a publish middleware called next after it returned")}
	}
	// Counted before seal can end the hand-over, so that done waits for
	// these answers even when the chain returns meanwhile.
	c.left.Add(int64(len(msgs)))
	c.mu.Unlock()
	var errs []error
	for _, m := range msgs {
		if m == nil {
			c.uncount()
			continue
		}
		if err := c.p.topic.Send(c.dctx, topic, m, c.o, c.answerFn); err != nil {
			errs = append(errs, err)
			c.uncount()
			continue
		}
		c.sent.Add(1)
	}
	return errors.Join(errs...)
}

// uncount takes back the count of a message send did not hand over.
func (c *asyncCall) uncount() {
	if c.left.Add(-1) == 0 {
		c.finish()
	}
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

// refuse ends a hand-over that failed before anything was sent: it
// reports false when a next of the middleware is sending meanwhile (from
// another goroutine), and then the call goes on as taken.
func (c *asyncCall) refuse() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.left.Load() != 1 || c.sent.Load() != 0 {
		return false
	}
	c.sealed = true
	return true
}

// seal ends the hand-over: err is the middleware chain's result.
func (c *asyncCall) seal(err error) {
	if len(c.p.mws) > 0 { // without middleware err is nil and nothing calls send
		c.mu.Lock()
		c.sealed = true
		if err != nil && c.err == nil {
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
	w := c.p.async
	if c.pooled {
		c.recycle()
	}
	w.release()
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
	idle chan struct{} // made by wait while n > 0, closed when n is back to 0
}

func newWindow(size int) *window {
	return &window{slots: make(chan struct{}, size)}
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
	w.n++
	w.mu.Unlock()
	return nil
}

// release gives a slot back.
func (w *window) release() {
	w.mu.Lock()
	w.n--
	if w.n == 0 && w.idle != nil {
		close(w.idle)
		w.idle = nil
	}
	w.mu.Unlock()
	<-w.slots
}

// wait blocks until nothing is pending or ctx ends.
func (w *window) wait(ctx context.Context) error {
	w.mu.Lock()
	if w.n == 0 {
		w.mu.Unlock()
		return nil
	}
	if w.idle == nil {
		w.idle = make(chan struct{})
	}
	idle := w.idle
	w.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
