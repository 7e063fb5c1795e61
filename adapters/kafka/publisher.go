package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// publishTimeout bounds a Watermill Publish (which has no context), and
// a PublishAsync, while the broker cannot be reached. PublishContext is
// bounded by its context.
const publishTimeout = 60 * time.Second

// closeFlushTimeout bounds how long Close waits for the records already
// handed to the producer before it drops the connections.
const closeFlushTimeout = 5 * time.Second

// asyncWindow is how many PublishAsync records may wait for their
// acknowledgement at once; PublishAsync blocks while it is full.
const asyncWindow = 8192

// Publisher is the Watermill publisher the kafka adapter returns: a
// franz-go producer (acks=all and idempotent by default) writing the
// records watermill-kafka writes (see Marshaler), plus topic
// auto-creation. It is safe for concurrent use: concurrent publishes share
// the producer's batches and requests, each caller waiting only for its
// own records.
type Publisher struct {
	guard  *netGuard
	cl     *kgo.Client
	admin  *admin
	ctx    context.Context // records of PublishAsync; cancelled when Close gives up flushing
	cancel context.CancelFunc
	window chan struct{} // one token per PublishAsync record in flight
	user   string        // the SASL user, named in permission errors

	closed    atomic.Bool
	closing   chan struct{} // closed when Close begins: waits stop
	closeOnce sync.Once
}

var (
	_ message.Publisher         = (*Publisher)(nil)
	_ adapters.ContextPublisher = (*Publisher)(nil)
	_ adapters.AsyncPublisher   = (*Publisher)(nil)
)

func newPublisher(ctx context.Context, s settings) (*Publisher, error) {
	g := newNetGuard(10*time.Second, 0)
	cl, err := connect(ctx, s, g,
		// Sync callers wait for their own record: lingering would only
		// delay them; batches still form while requests are in flight.
		kgo.ProducerLinger(0),
		kgo.RecordDeliveryTimeout(publishTimeout),
		kgo.MaxBufferedRecords(4*asyncWindow),
	)
	if err != nil {
		g.abort()
		return nil, openError("publisher", s, err)
	}
	pctx, cancel := context.WithCancel(context.Background())
	p := &Publisher{guard: g, cl: cl, ctx: pctx, cancel: cancel, window: make(chan struct{}, asyncWindow), closing: make(chan struct{}), user: s.username}
	p.admin = newAdmin(g.ctx, cl, s)
	return p, nil
}

// Publish implements Watermill's Publisher: PublishContext bounded by
// one minute (publishTimeout) while the broker cannot be reached.
func (p *Publisher) Publish(topic string, msgs ...*message.Message) error {
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	return p.PublishContext(ctx, topic, msgs...)
}

// callResults collects the outcomes of one PublishContext call's records.
// The channel holds one result per record, so a promise never blocks,
// even after the caller gave up.
type callResults chan produced

type produced struct {
	rec *kgo.Record
	err error
}

// PublishContext sends msgs to topic, creating the topic on first use, and
// returns once the broker acknowledged them all. Concurrent calls pipeline:
// their records share the producer's batches, and each call waits only
// for its own.
//
// While the broker cannot be reached (down, no partition leader) it waits
// until ctx ends (the producer retries), then returns an error wrapping
// herald.ErrUnreachable and ctx.Err(). Errors that waiting cannot fix (a
// message over max_message_bytes, a refused authorization, a bad topic
// name) are returned at once. It neither changes msgs nor starts a
// goroutine. After Close it returns an error wrapping herald.ErrClosed.
func (p *Publisher) PublishContext(ctx context.Context, topic string, msgs ...*message.Message) error {
	if p.closed.Load() {
		return closedError("publish to", topic)
	}
	if err := validTopic(topic); err != nil {
		return opError("publish to", topic, err)
	}
	if len(msgs) == 0 {
		return nil
	}
	for i, m := range msgs {
		if m == nil {
			return opError("publish to", topic, fmt.Errorf("message %d is nil", i))
		}
	}
	if err := p.ensure(ctx, topic); err != nil {
		return opError("publish to", topic, denied(p.user, err))
	}
	results := make(callResults, len(msgs))
	promise := func(r *kgo.Record, err error) { results <- produced{r, err} }
	for _, m := range msgs {
		p.cl.Produce(ctx, newRecord(topic, m), promise)
	}
	var last error // the last transient failure
	wait := 250 * time.Millisecond
	for pending := len(msgs); pending > 0; {
		select {
		case r := <-results:
			pending--
			switch {
			case r.err == nil:
			case p.closed.Load() || errors.Is(r.err, kgo.ErrClientClosed):
				return opError("publish to", topic, p.stopped(ctx, herald.ErrClosed, r.err))
			case ctx.Err() != nil:
				return opError("publish to", topic, ctxError(ctx, p.cause(r.err)))
			case transient(r.err):
				// The record's delivery timeout passed: send it again.
				last = r.err
				if !sleep(ctx, wait, p.closing) {
					return opError("publish to", topic, p.stopped(ctx, ctx.Err(), last))
				}
				wait = min(2*wait, 2*time.Second)
				pending++
				r.rec.Partition, r.rec.Offset = 0, 0
				p.cl.Produce(ctx, r.rec, promise)
			default:
				return opError("publish to", topic, denied(p.user, r.err))
			}
		case <-ctx.Done():
			return opError("publish to", topic, ctxError(ctx, p.cause(last)))
		case <-p.closing:
			return opError("publish to", topic, p.stopped(ctx, herald.ErrClosed, last))
		}
	}
	return nil
}

// PublishAsync hands msg to the producer and returns; done is called with
// the outcome once the broker acknowledged it or it failed (see
// adapters.AsyncPublisher). It blocks while 8192 records wait for their
// acknowledgement, until ctx ends. A record waits for an unreachable
// broker for up to a minute; done then gets an error wrapping
// herald.ErrUnreachable.
func (p *Publisher) PublishAsync(ctx context.Context, topic string, msg *message.Message, done func(error)) error {
	if p.closed.Load() {
		return closedError("publish to", topic)
	}
	if msg == nil || done == nil {
		return opError("publish to", topic, errors.New("PublishAsync needs a message and a done func"))
	}
	if err := validTopic(topic); err != nil {
		return opError("publish to", topic, err)
	}
	if err := p.ensure(ctx, topic); err != nil {
		return opError("publish to", topic, denied(p.user, err))
	}
	select {
	case p.window <- struct{}{}:
	default:
		select {
		case p.window <- struct{}{}:
		case <-ctx.Done():
			return opError("publish to", topic, ctxError(ctx, nil))
		case <-p.closing:
			return closedError("publish to", topic)
		}
	}
	p.cl.Produce(p.ctx, newRecord(topic, msg), func(_ *kgo.Record, err error) {
		if err != nil {
			err = p.asyncError(topic, err)
		}
		done(err)
		<-p.window // after done: the window covers the callback
	})
	return nil
}

// asyncError is the error given to a PublishAsync callback.
func (p *Publisher) asyncError(topic string, err error) error {
	switch {
	case p.closed.Load() || errors.Is(err, kgo.ErrClientClosed) || errors.Is(err, context.Canceled):
		return opError("publish to", topic, p.stopped(p.ctx, herald.ErrClosed, err))
	case transient(err):
		return opError("publish to", topic, errors.Join(herald.ErrUnreachable, p.cause(err)))
	default:
		return opError("publish to", topic, denied(p.user, err))
	}
}

// cause is the best explanation of a wait for the broker: err, or the
// last connection failure when err says nothing more.
func (p *Publisher) cause(err error) error {
	if dial := p.guard.lastDialError(); dial != nil && (err == nil || errors.Is(err, kgo.ErrRecordTimeout) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
		return dial
	}
	return err
}

// ensure creates topic if needed, waiting and retrying while the broker
// cannot be reached, until ctx ends.
func (p *Publisher) ensure(ctx context.Context, topic string) error {
	if p.admin.known(topic) {
		return nil
	}
	wait := 250 * time.Millisecond
	for {
		err := p.admin.ensure(ctx, topic)
		if err != nil && (errors.Is(err, herald.ErrClosed) || p.closed.Load()) {
			return herald.ErrClosed // Close cut the attempt off
		}
		if err == nil || !transient(err) || ctx.Err() != nil {
			if err != nil && ctx.Err() != nil && !errors.Is(err, herald.ErrUnreachable) {
				return ctxError(ctx, p.cause(err))
			}
			return err
		}
		if !sleep(ctx, wait, p.closing) {
			return p.stopped(ctx, ctx.Err(), err)
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// stopped is the error of a wait that ctx or Close ended (err), after the
// transient failure last.
func (p *Publisher) stopped(ctx context.Context, err, last error) error {
	if errors.Is(err, herald.ErrClosed) || p.closed.Load() {
		if last != nil && !errors.Is(last, kgo.ErrClientClosed) {
			return errors.Join(herald.ErrClosed, last)
		}
		return herald.ErrClosed
	}
	if ctx.Err() != nil {
		return ctxError(ctx, p.cause(last))
	}
	return err
}

// Close flushes the records already handed to the producer (for up to 5
// seconds; then it drops the connections and their publishes fail) and
// closes the producer and the connections. Publishes waiting for the
// broker stop waiting. Close is idempotent.
func (p *Publisher) Close() error {
	p.closeOnce.Do(func() {
		p.closed.Store(true)
		close(p.closing)
		ctx, cancel := context.WithTimeout(context.Background(), closeFlushTimeout)
		if err := p.cl.Flush(ctx); err != nil {
			p.cancel() // unsent PublishAsync records fail
			p.guard.abort()
		}
		cancel()
		p.guard.abort()
		p.admin.close()
		p.cl.Close()
		p.cancel()
	})
	return nil
}

// As gives access to the objects underneath, in the style of Go CDK. It
// returns true and sets *target when target is one of:
//
//   - **kgo.Client (the franz-go client that produces; do not close it)
//   - **kadm.Client (an admin client on it, which creates topics)
func (p *Publisher) As(target any) bool {
	switch t := target.(type) {
	case **kgo.Client:
		*t = p.cl
	case **kadm.Client:
		*t = p.admin.adm
	default:
		return false
	}
	return true
}
