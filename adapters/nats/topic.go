package nats

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/internal/natsx"
	"github.com/heraldkit/herald/internal/backoff"
)

// coreFlushWait bounds one flush of messages sent without a deadline; the
// flush is tried again after it (nats.go's flush needs a deadline).
const coreFlushWait = time.Minute

// coreTopic is the core NATS publish side: at most once. Send writes the
// message to the connection; done is called once a flush (a PING and
// its PONG) shows that the server has read it: nil then means the server
// took it, not that a subscriber got it (core NATS delivers to the
// subscriptions that exist at that moment, and keeps nothing). One
// goroutine flushes for every message written meanwhile.
type coreTopic struct {
	nc    *nats.Conn
	m     natsx.Marshaler
	watch *natsx.ConnWatch

	closed                     atomic.Bool
	closing                    context.Context // cancelled by Close: Sends stop waiting
	abort                      context.Context // cancelled when Close's context ends: the flush stops
	cancelClosing, cancelAbort context.CancelFunc
	kick                       chan struct{} // capacity 1: messages await a flush
	ended                      chan struct{} // closed when the flusher returned
	once                       sync.Once

	mu      sync.Mutex
	written []coreEntry // written, awaiting a flush
	spare   []coreEntry
	busy    bool          // a flush is under way
	drained chan struct{} // set by Close: closed once nothing awaits a flush
}

// coreEntry is one message written, awaiting its flush.
type coreEntry struct {
	topic    string
	deadline time.Time
	done     func(error)
}

var _ adapters.Topic = (*coreTopic)(nil)

func newCoreTopic(nc *nats.Conn, env adapters.Env) *coreTopic {
	t := &coreTopic{nc: nc, kick: make(chan struct{}, 1), ended: make(chan struct{})}
	t.closing, t.cancelClosing = context.WithCancel(context.Background())
	t.abort, t.cancelAbort = context.WithCancel(context.Background())
	t.watch = natsx.NewConnWatch(nc, env.Logger, Scheme, "topic")
	go t.flusher()
	return t
}

func (t *coreTopic) fail(topic string, k herald.Kind, err error) error {
	return natsx.Error(Scheme, "publish to", topic, k, err)
}

// Send implements adapters.Topic. While the connection is down it waits
// for it within ctx: when ctx ends first the message is not taken
// (KindUnreachable). A message written is settled by the next flush: nil
// once the server read it, KindOutcomeUnknown when the connection broke
// or the deadline passed first (it may have reached the server). Core
// NATS holds no message, so it has no delayed delivery
// (Capabilities.Delay.Max is 0: JetStream, mode=jetstream, the default,
// has it), and it carries no herald.Properties: either is refused.
func (t *coreTopic) Send(ctx context.Context, topic string, m *herald.Message, o adapters.SendOptions, done func(error)) error {
	switch {
	case !o.At.IsZero():
		return t.fail(topic, herald.KindInvalid, errors.New("core NATS has no delayed delivery (maximum delay 0): use mode=jetstream"))
	case !o.Properties.IsZero():
		return t.fail(topic, herald.KindInvalid, errors.New("no broker properties (herald.Properties) on core NATS: metadata entries are headers"))
	}
	if t.closed.Load() {
		return t.fail(topic, herald.KindClosed, nil)
	}
	if err := natsx.CheckTopic(topic); err != nil {
		return t.fail(topic, herald.KindInvalid, err)
	}
	nm, _ := t.m.Marshal(topic, m)
	var last error
	// Retries wait as every resend of the drivers does (internal/backoff).
	retry := backoff.Policy{Base: 50 * time.Millisecond, Limit: time.Second}.Start()
	for {
		if !t.nc.IsConnected() {
			select {
			case <-t.watch.Up():
			case <-ctx.Done():
				return t.notWritten(ctx, topic, last)
			case <-t.closing.Done():
				return t.fail(topic, herald.KindClosed, nil)
			}
		}
		if err := ctx.Err(); err != nil {
			return t.notWritten(ctx, topic, last)
		}
		err := t.nc.PublishMsg(nm)
		if err == nil {
			break
		}
		if !natsx.Retryable(err) {
			return t.fail(topic, natsx.Kind(err), err)
		}
		last = err
		// The next round returns ctx's or Close's error if the wait was
		// cut short.
		backoff.Wait(ctx, retry.Next(), t.closing.Done())
	}
	e := coreEntry{topic: topic, done: done}
	e.deadline, _ = ctx.Deadline()
	t.mu.Lock()
	t.written = append(t.written, e)
	t.mu.Unlock()
	select {
	case t.kick <- struct{}{}:
	default:
	}
	return nil
}

func (t *coreTopic) notWritten(ctx context.Context, topic string, last error) error {
	k := herald.KindUnreachable
	if errors.Is(ctx.Err(), context.Canceled) && t.nc.IsConnected() {
		k = herald.KindOther
	}
	err := fmt.Errorf("not written: %w", ctx.Err())
	if last != nil {
		err = fmt.Errorf("%w (last error: %w)", err, last)
	}
	return t.fail(topic, k, err)
}

// flusher flushes what was written, one PING for every message written
// before it, until Close.
func (t *coreTopic) flusher() {
	defer close(t.ended)
	for {
		select {
		case <-t.kick:
		case <-t.abort.Done():
			return
		}
		for t.flushOnce() {
		}
	}
}

// flushOnce flushes the messages written so far and settles them; it
// returns false when none was waiting.
func (t *coreTopic) flushOnce() bool {
	t.mu.Lock()
	batch := t.written
	t.written, t.spare = t.spare[:0], nil
	t.busy = len(batch) > 0
	if !t.busy {
		if t.drained != nil {
			close(t.drained)
			t.drained = nil
		}
		t.mu.Unlock()
		return false
	}
	t.mu.Unlock()
	var first time.Time
	for _, e := range batch {
		if !e.deadline.IsZero() && (first.IsZero() || e.deadline.Before(first)) {
			first = e.deadline
		}
	}
	if first.IsZero() {
		first = time.Now().Add(coreFlushWait)
	}
	ctx, cancel := context.WithDeadline(t.abort, first)
	err := t.nc.FlushWithContext(ctx)
	cancel()
	now := time.Now()
	var again []coreEntry
	for _, e := range batch {
		switch {
		case err == nil:
			e.done(nil)
		case t.abort.Err() != nil:
			e.done(t.fail(e.topic, herald.KindClosed, fmt.Errorf("written, not confirmed before Close gave up: %w", err)))
		case errors.Is(err, context.DeadlineExceeded) && (e.deadline.IsZero() || now.Before(e.deadline)):
			again = append(again, e) // another message's deadline: flush again
		default:
			e.done(t.fail(e.topic, herald.KindOutcomeUnknown, fmt.Errorf("written, the server's reading it not confirmed: %w", err)))
		}
	}
	clear(batch)
	t.mu.Lock()
	t.written = append(again, t.written...)
	if t.spare == nil {
		t.spare = batch[:0]
	}
	t.busy = false
	t.mu.Unlock()
	return true
}

// Close implements adapters.Topic: it stops taking messages, flushes
// within ctx what was written (KindClosed for what could not be
// confirmed) and closes the connection.
func (t *coreTopic) Close(ctx context.Context) error {
	var err error
	t.once.Do(func() {
		t.closed.Store(true)
		t.cancelClosing()
		t.mu.Lock()
		drained := make(chan struct{})
		if len(t.written) == 0 && !t.busy {
			close(drained)
		} else {
			t.drained = drained
		}
		t.mu.Unlock()
		select {
		case t.kick <- struct{}{}:
		default:
		}
		select {
		case <-drained:
		case <-ctx.Done():
			err = natsx.Error(Scheme, "close", "", herald.KindOther, fmt.Errorf("messages not confirmed fail with ErrClosed: %w", ctx.Err()))
		}
		t.cancelAbort()
		<-t.ended
		t.mu.Lock()
		left := t.written
		t.written = nil
		t.mu.Unlock()
		for _, e := range left {
			e.done(t.fail(e.topic, herald.KindClosed, nil))
		}
		t.watch.Closing()
		t.nc.Close()
	})
	return err
}

// As implements adapters.Topic: **nats.Conn.
func (t *coreTopic) As(target any) bool {
	if p, ok := target.(**nats.Conn); ok {
		*p = t.nc
		return true
	}
	return false
}
