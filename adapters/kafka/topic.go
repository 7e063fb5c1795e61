package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/internal/backoff"
)

// maxBufferedRecords is franz-go's limit of records taken and not yet
// answered (kgo.MaxBufferedRecords), far above the facade's largest
// async window (publisher.MaxAsyncWindow, 1<<20) so that it never limits
// it: the facade owns the window, and Send never waits for buffer space.
const maxBufferedRecords = 1 << 30

// answerGrace is how long after a Send's context ended the driver waits
// for franz-go to fail a record it holds before it reports the outcome
// unknown: franz-go fails a record it never wrote at its next safe point
// (KindUnreachable), but keeps one whose produce request was written and
// not answered until the broker answers (the idempotent producer cannot
// drop it without risking a duplicate or a gap).
const answerGrace = 250 * time.Millisecond

// closeAbortWait bounds how long Close, once its ctx ended, lets
// franz-go fail the records it never wrote (KindClosed) before it cuts
// the connections (the rest were written and not answered:
// KindOutcomeUnknown).
const closeAbortWait = 200 * time.Millisecond

// topic is the adapters.Topic of the kafka driver: a franz-go producer
// (acks=all and idempotent by default, no linger) plus topic creation.
// Concurrent sends share the producer's batches and requests (up to 5 in
// flight per broker with idempotence); a record taken while others are
// in flight waits up to coalesceWait for more to join it (coalescer).
type topic struct {
	set       settings
	guard     *netGuard
	cl        *kgo.Client
	admin     *admin
	log       *slog.Logger
	writes    writeCounter             // produce requests written to a broker
	answer    func(*kgo.Record, error) // t.promise, made once: every record's promise
	co        *coalescer
	lastWatch atomic.Pointer[watch] // the watch of the last Send's context
	open      sync.WaitGroup        // records taken whose done has not returned

	mu      sync.RWMutex // Send holds it shared from its closed check to Produce
	closed  bool
	closing chan struct{} // closed when Close begins: waits in Send stop
	once    sync.Once
	err     error // Close's
}

var _ adapters.Topic = (*topic)(nil)

// writeCounter counts the produce requests written, in part or whole, to
// a broker (kgo.HookBrokerWrite): a record that failed while none was
// written since it was taken was not written.
type writeCounter struct{ n atomic.Uint64 }

// OnBrokerWrite implements kgo.HookBrokerWrite.
func (w *writeCounter) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, bytesWritten int, _, _ time.Duration, _ error) {
	if key == 0 && bytesWritten > 0 { // 0: Produce
		w.n.Add(1)
	}
}

func newTopic(ctx context.Context, s settings, log *slog.Logger) (*topic, error) {
	g := newNetGuard(s.connectTimeout, 0)
	t := &topic{set: s, guard: g, log: log, closing: make(chan struct{})}
	cl, err := connect(ctx, "publisher", s, g,
		// A lone Send is not delayed; batches still form while requests
		// are in flight.
		kgo.ProducerLinger(0),
		kgo.MaxBufferedRecords(maxBufferedRecords),
		kgo.WithHooks(&t.writes),
	)
	if err != nil {
		g.abort()
		return nil, err
	}
	t.cl = cl
	t.admin = newAdmin(g.ctx, cl, s)
	t.answer = t.promise
	t.co = newCoalescer(func(r *kgo.Record) { cl.Produce(r.Context, r, t.answer) })
	return t, nil
}

// send is one record taken by Send: the record's context (the Send's
// ctx, which franz-go honours for a record it has not written), and what
// its promise needs.
type send struct {
	context.Context
	rec        kgo.Record          // the record: one allocation with the send
	hdrs       [3]kgo.RecordHeader // its headers when they fit: the ID and two more
	t          *topic
	topic      string
	done       func(error)
	writes     uint64      // t.writes when taken
	fired      atomic.Bool // done was called
	w          *watch      // the watch of its context
	prev, next *send       // in w's list while not answered
}

// finish calls done once.
func (st *send) finish(err error) {
	if st.fired.Swap(true) {
		return
	}
	st.w.remove(st)
	st.done(err)
	st.t.open.Done()
}

// Send implements adapters.Topic. It creates the topic on its first use,
// waiting for the brokers no longer than ctx, then hands the record to
// franz-go's Produce with ctx as the record's context (through the
// coalescer) and returns. o.Time is the record timestamp. Kafka has no
// delayed delivery (Capabilities.Delay.Max is 0: the outbox scheduler
// gives one), no per-message expiry and no type property: o.At, o.TTL and
// o.Type are refused.
func (t *topic) Send(ctx context.Context, name string, m *herald.Message, o adapters.SendOptions, done func(error)) error {
	switch {
	case m == nil || done == nil:
		return newError(opPublish, name, herald.KindInvalid, errors.New("Send needs a message and a done func"))
	case !o.At.IsZero():
		return newError(opPublish, name, herald.KindInvalid, errors.New("no delayed delivery on Kafka (maximum delay 0)"))
	case o.TTL != 0 || o.Type != "":
		return newError(opPublish, name, herald.KindInvalid, errors.New("herald.Properties.TTL and Type must be zero: Kafka carries only Properties.Time (the record timestamp)"))
	}
	if err := checkTimestamp(o.Time); err != nil {
		return newError(opPublish, name, herald.KindInvalid, err)
	}
	if err := validTopic(name); err != nil {
		return newError(opPublish, name, herald.KindInvalid, err)
	}
	if t.isClosed() {
		return closedError(opPublish, name)
	}
	if ctx.Err() != nil {
		return newError(opPublish, name, herald.KindUnreachable, ctxErr(ctx, nil))
	}
	if err := t.ensure(ctx, name); err != nil {
		return err
	}
	st := &send{Context: ctx, t: t, topic: name, done: done}
	rec := &st.rec
	fillRecord(rec, st.hdrs[:0], name, m, o.Time)
	rec.Context = st
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return closedError(opPublish, name)
	}
	st.writes = t.writes.n.Load()
	t.open.Add(1) // under t.mu, before Close's Wait
	t.watchFor(ctx).add(st)
	t.co.take(rec)
	return nil
}

// promise is every record's franz-go promise.
func (t *topic) promise(r *kgo.Record, err error) {
	st := r.Context.(*send)
	t.co.answered()
	st.finish(t.outcome(st, err))
}

// outcome is the error done gets for a record's result err: nil once
// stored; KindOutcomeUnknown when the broker may have it; otherwise the
// record was not stored (KindUnreachable when its ctx ended first).
func (t *topic) outcome(st *send, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kgo.ErrAborting):
		return newError(opPublish, st.topic, herald.KindClosed, fmt.Errorf("closed before the record was sent: %w", err))
	case errors.Is(err, kgo.ErrClientClosed):
		return newError(opPublish, st.topic, herald.KindOutcomeUnknown, fmt.Errorf("closed before the broker answered: %w", err))
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.Is(err, kgo.ErrRecordTimeout), errors.Is(err, kgo.ErrRecordRetries):
		cause := t.cause(err)
		if st.Err() == nil {
			// An earlier record of the partition failed: franz-go fails
			// a partition's buffered records together.
			cause = fmt.Errorf("failed with the records before it in its partition, whose context ended first: %w", cause)
		} else {
			cause = ctxErr(st.Context, cause)
		}
		// The idempotent producer fails a record only if no request
		// with it is awaiting an answer; without idempotence a record in
		// flight may be failed too, so a request written since it was
		// taken may have carried it.
		if !t.set.idempotent && t.writes.n.Load() != st.writes {
			return newError(opPublish, st.topic, herald.KindOutcomeUnknown, cause)
		}
		return newError(opPublish, st.topic, herald.KindUnreachable, cause)
	case maybeStored(err):
		return newError(opPublish, st.topic, herald.KindOutcomeUnknown, err)
	default:
		return opError(opPublish, st.topic, denied(t.set.username, err))
	}
}

// cause is the best explanation of a wait for the broker: err, with the
// last connection failure when err says nothing more.
func (t *topic) cause(err error) error {
	dial := t.guard.lastDialError()
	if dial == nil {
		return err
	}
	if err == nil || errors.Is(err, kgo.ErrRecordTimeout) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("%w (last connection error: %w)", err, dial)
	}
	return err
}

func (t *topic) isClosed() bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.closed
}

// ensure creates topic if needed, waiting and retrying while the broker
// cannot be reached, until ctx ends or Close begins.
func (t *topic) ensure(ctx context.Context, name string) error {
	if t.admin.known(name) {
		return nil
	}
	retry := backoff.Policy{Base: 250 * time.Millisecond, Limit: 2 * time.Second}.Start()
	for {
		err := t.admin.ensure(ctx, name)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, herald.ErrClosed) || t.isClosed():
			return closedError(opPublish, name)
		case ctx.Err() != nil:
			return newError(opPublish, name, herald.KindUnreachable, ctxErr(ctx, t.cause(err)))
		case !transient(err):
			return opError(opPublish, name, denied(t.set.username, err))
		}
		// The next round returns ctx's or Close's error if the wait was
		// cut short.
		backoff.Wait(ctx, retry.Next(), t.closing)
	}
}

// Close implements adapters.Topic: new sends fail with KindClosed; it
// waits within ctx for the answers of the records taken. When ctx ends
// first, the records never written fail with KindClosed, those written
// and not answered with KindOutcomeUnknown, and Close returns an error of
// KindUnreachable. Then the connections close. It is idempotent.
func (t *topic) Close(ctx context.Context) error {
	t.once.Do(func() {
		t.mu.Lock()
		t.closed = true
		close(t.closing)
		t.mu.Unlock()
		t.co.release() // nothing is taken after closed: none is held after this
		wctx := ctx
		if err := t.cl.Flush(ctx); err != nil {
			actx, cancel := context.WithTimeout(context.Background(), closeAbortWait)
			defer cancel()
			_ = t.cl.AbortBufferedRecords(actx)
			wctx = actx
			t.err = newError(opClose, "", herald.KindUnreachable, fmt.Errorf("records not answered: %w", ctxErr(ctx, t.guard.lastDialError())))
		}
		// franz-go has called every promise; a done that a context's
		// watch called may still run: Close returns after it did.
		t.awaitDones(wctx)
		t.guard.abort()
		t.admin.close()
		t.cl.Close()
	})
	return t.err
}

// awaitDones waits within ctx for every done called to return.
func (t *topic) awaitDones(ctx context.Context) {
	returned := make(chan struct{})
	go func() { t.open.Wait(); close(returned) }()
	select {
	case <-returned:
	case <-ctx.Done():
	}
}

// As implements adapters.Topic. Targets:
//
//   - **kgo.Client: the franz-go client that produces (do not close it)
//   - **kadm.Client: an admin client on it (it creates topics)
func (t *topic) As(target any) bool {
	switch tt := target.(type) {
	case **kgo.Client:
		*tt = t.cl
	case **kadm.Client:
		*tt = t.admin.adm
	default:
		return false
	}
	return true
}
