package natsx

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/internal/backoff"
)

// publishMaxPending is nats.go's bound on the PubAcks pending on one
// connection (WithPublishAsyncMaxPending). It is far above the
// publisher's largest async window (publisher.MaxAsyncWindow, 1<<20)
// plus any number of concurrent Publish calls, so nats.go never stalls a
// Send (its stall waits without the Send's context): the publisher's
// window is the only bound on what is in flight.
const publishMaxPending = 1 << 26

// attemptTimeout is how long a PubAck may take before the message is
// written again (with the same Nats-Msg-Id, so the stream keeps one
// copy), as long as its deadline allows. It is a retransmission timer,
// not a publish timeout: the message's deadline, from Send's context,
// decides when it fails.
const attemptTimeout = 5 * time.Second

// Resends after a failure wait this long first, doubling while they keep
// failing, so that a server that is not ready yet is not flooded.
const (
	minResendWait = 50 * time.Millisecond
	maxResendWait = time.Second
)

// resendPolicy is the backoff of every resend and retry of a Topic.
var resendPolicy = backoff.Policy{Base: minResendWait, Limit: maxResendWait}

// Topic is the JetStream publish side (adapters.Topic): Send writes each
// message with nats.go's asynchronous publish and reports its PubAck to
// done from nats.go's callback, without a goroutine or a channel per
// message.
//
// A message whose PubAck does not come (nats.go fails every pending
// PubAck with ErrDisconnected when the connection drops; an answer that
// does not come within attemptTimeout) is written again once the
// connection is back, with the same Nats-Msg-Id, so a copy the stream
// already stored is not stored twice; while such resends are due, new
// messages wait for them, which keeps the order of one Topic's messages.
// When its deadline passes first, done gets KindOutcomeUnknown: it was
// written and the stream may have it.
type Topic struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	scheme string
	prov   *provisioner
	m      Marshaler
	watch  *ConnWatch

	onClose func()
	as      func(any) bool

	closed                    atomic.Bool
	open                      atomic.Int64    // messages taken whose done has not returned (or that were taken back)
	closing                   context.Context // cancelled by Close: Sends stop waiting
	stop                      context.Context // cancelled by Close once the answers were awaited: the resender ends
	ended                     chan struct{}   // closed when the resender returned
	wake                      chan struct{}   // capacity 1: a resend is due
	once                      sync.Once
	cancelClosing, cancelStop context.CancelFunc

	// wmu serialises writes, new and resent: the order of one Topic's
	// messages is the order of Send. It is never held by nats.go's
	// callbacks, which take mu only.
	wmu sync.Mutex

	mu        sync.Mutex
	byMsg     map[*nats.Msg]*pubEntry // every message taken and not finished
	head      *pubEntry               // the taken messages in Send order
	tail      *pubEntry
	gate      chan struct{}  // non-nil while resends are due: Send waits for its close
	idle      chan struct{}  // set by Close: closed when open reaches 0
	lastRound time.Time      // when the last resend round ran
	wait      time.Duration  // the pause between resend rounds
	rounds    *backoff.Retry // the resend rounds failing in a row
}

// pubEntry is one message taken by Send.
type pubEntry struct {
	nm       *nats.Msg   // &msg
	msg      nats.Msg    // one allocation with the entry
	scratch  fillScratch // msg's header values and DedupID, when they fit
	topic    string
	deadline time.Time // zero: none
	done     func(error)
	state    uint8 // pubPending, pubRetry, pubDone
	err      error // pubRetry: the failure that made it due
	next     *pubEntry
}

// retake is a new entry for the message of e, which a failed write took
// back: e stays in the list, finished, so the message is pushed anew.
// The message keeps the header values e's scratch holds.
func (e *pubEntry) retake() *pubEntry {
	n := &pubEntry{msg: e.msg, topic: e.topic, deadline: e.deadline, done: e.done}
	n.nm = &n.msg
	return n
}

const (
	pubPending uint8 = iota // written, awaiting its PubAck
	pubRetry                // to be written again
	pubDone                 // done was called (or is being called)
)

var _ adapters.Topic = (*Topic)(nil)

// NewTopic returns a JetStream topic over nc, which it owns: Close
// closes nc.
func NewTopic(nc *nats.Conn, set Settings, o Options) (*Topic, error) {
	o.defaults()
	t := &Topic{
		nc: nc, scheme: o.Scheme, onClose: o.OnClose, as: o.As, ended: make(chan struct{}),
		wake: make(chan struct{}, 1), byMsg: map[*nats.Msg]*pubEntry{}, wait: minResendWait, rounds: resendPolicy.Start(),
	}
	t.closing, t.cancelClosing = context.WithCancel(context.Background())
	t.stop, t.cancelStop = context.WithCancel(context.Background())
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(publishMaxPending),
		jetstream.WithPublishAsyncTimeout(attemptTimeout),
		jetstream.WithPublishAsyncAckHandler(func(_ jetstream.JetStream, m *nats.Msg, _ *jetstream.PubAck) { t.result(m, nil) }),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, m *nats.Msg, err error) {
			if err == nil {
				err = errors.New("publish failed without a cause")
			}
			t.result(m, err)
		}))
	if err != nil {
		return nil, Error(o.Scheme, "open", "", herald.KindOther, fmt.Errorf("jetstream: %w", err))
	}
	t.js = js
	setCopy := set
	t.prov = newProvisioner(js, &setCopy)
	t.watch = NewConnWatch(nc, o.Logger, o.Scheme, "topic")
	// A refused publish gets no PubAck, only an asynchronous error: fail
	// its messages at once (waiting cannot fix it).
	t.watch.Listen(func(err error) {
		if subject, ok := deniedSubject(err); ok {
			t.deny(subject, publishDenied(nc, subject, err))
		}
	})
	go t.resender()
	return t, nil
}

// Send implements adapters.Topic. It waits, within ctx, for the topic's
// stream to be known (looked up or created once per topic), for the
// connection and for resends under way; it returns an error (done is not
// called) when ctx ends first: KindUnreachable, or KindOther when ctx was
// cancelled while the connection is up. Once written, the message is
// settled through done: nil on its PubAck (a duplicate counts: this
// message is stored under this subject), KindOutcomeUnknown when its
// deadline passed without an answer, KindTooLarge, KindDenied or
// KindInvalid when the server refused it, KindClosed when Close gave up
// waiting. JetStream carries no herald.Properties: any is refused.
//
// With o.At it is a JetStream message schedule (see DelayCapabilities):
// the message is stored in the topic's stream as a schedule for o.At,
// under a schedule subject of its own, and done gets its PubAck as
// without; the server publishes it to the topic at o.At (rounded up to
// the second). The first delayed message to a topic makes its stream take
// schedules (allow_msg_schedules and the schedule subjects; one-way), or
// fails with KindInvalid when provision=false and the stream does not.
func (t *Topic) Send(ctx context.Context, topic string, m *herald.Message, o adapters.SendOptions, done func(error)) error {
	if !o.Properties.IsZero() {
		return Error(t.scheme, opPublish, topic, herald.KindInvalid, errors.New("no broker properties (herald.Properties) on JetStream: metadata entries are headers"))
	}
	at := o.At
	if t.closed.Load() {
		return closedError(t.scheme, opPublish, topic)
	}
	if err := CheckTopic(topic); err != nil {
		return Error(t.scheme, opPublish, topic, herald.KindInvalid, err)
	}
	if err := ctx.Err(); err != nil {
		return Error(t.scheme, opPublish, topic, ctxKind(ctx, t.nc), err)
	}
	if at.IsZero() {
		if err := t.ensure(ctx, topic); err != nil {
			return err
		}
	} else if err := t.ensureSchedules(ctx, topic, at); err != nil {
		return err
	}
	e := &pubEntry{topic: topic, done: done}
	e.nm = &e.msg
	t.m.fill(e.nm, topic, m, &e.scratch)
	if !at.IsZero() {
		schedule(e.nm, topic, m, at)
	}
	e.deadline, _ = ctx.Deadline()
	retry := resendPolicy.Start()
	for {
		if err := t.ready(ctx, topic); err != nil {
			return err
		}
		t.wmu.Lock()
		t.mu.Lock()
		switch {
		case t.closed.Load():
			t.mu.Unlock()
			t.wmu.Unlock()
			return closedError(t.scheme, opPublish, topic)
		case t.gate != nil || !t.nc.IsConnected():
			// A resend became due, or the connection dropped, since ready.
			t.mu.Unlock()
			t.wmu.Unlock()
			continue
		}
		t.push(e)
		// The resender's timer follows the oldest message's deadline:
		// tell it about a new oldest one.
		arm := !e.deadline.IsZero() && (t.head == e || t.head.deadline.IsZero())
		t.mu.Unlock()
		if arm {
			t.signal()
		}
		_, err := t.js.PublishMsgAsync(e.nm)
		t.wmu.Unlock()
		if err == nil {
			return nil
		}
		// Not written: take it back, unless the resender settled it
		// meanwhile (its deadline passed, its subject was denied): its
		// done was called, and that is its one outcome.
		t.mu.Lock()
		if e.state == pubDone {
			t.mu.Unlock()
			return nil
		}
		t.remove(e)
		t.mu.Unlock()
		e = e.retake()
		if !Retryable(err) {
			return Error(t.scheme, opPublish, topic, Kind(err), err)
		}
		// Disconnected meanwhile, the reconnect buffer full, nats.go's
		// pending bound reached: wait and write again, within ctx.
		if err := t.pause(ctx, topic, retry.Next(), err); err != nil {
			return err
		}
	}
}

// ready waits within ctx until the connection is up and no resend is
// due.
func (t *Topic) ready(ctx context.Context, topic string) error {
	for {
		t.mu.Lock()
		gate := t.gate
		t.mu.Unlock()
		var wait <-chan struct{}
		switch {
		case gate != nil:
			wait = gate
		case !t.nc.IsConnected():
			wait = t.watch.Up()
		default:
			return nil
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return Error(t.scheme, opPublish, topic, ctxKind(ctx, t.nc), fmt.Errorf("not written: %w", ctx.Err()))
		case <-t.closing.Done():
			return closedError(t.scheme, opPublish, topic)
		}
	}
}

// pause waits d after a write that failed for want of the connection.
func (t *Topic) pause(ctx context.Context, topic string, d time.Duration, cause error) error {
	switch {
	case backoff.Wait(ctx, d, t.closing.Done()):
		return nil
	case ctx.Err() != nil:
		return Error(t.scheme, opPublish, topic, herald.KindUnreachable, fmt.Errorf("not written: %w (last error: %w)", ctx.Err(), cause))
	default:
		return closedError(t.scheme, opPublish, topic)
	}
}

// ensure makes the topic's stream known, within ctx. A lookup that gets
// no answer (no JetStream meta leader right after a server was killed)
// is bounded by attemptTimeout and tried again.
func (t *Topic) ensure(ctx context.Context, topic string) error {
	if _, ok := t.prov.known(topic); ok {
		return nil
	}
	return t.retryLookup(ctx, topic, "the topic's stream", func(actx context.Context) error {
		_, err := t.prov.ensure(actx, topic)
		return err
	})
}

// retryLookup runs lookup (what names it in errors) until it succeeds,
// each attempt bounded by attemptTimeout and cut short by Close, waiting
// resendPolicy between attempts while the failure is retryable and ctx
// allows.
func (t *Topic) retryLookup(ctx context.Context, topic, what string, lookup func(context.Context) error) error {
	retry := resendPolicy.Start()
	for {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		stop := context.AfterFunc(t.closing, cancel)
		err := lookup(actx)
		stop()
		cancel()
		switch {
		case err == nil:
			return nil
		case t.closed.Load():
			return closedError(t.scheme, opPublish, topic)
		case ctx.Err() != nil:
			return Error(t.scheme, opPublish, topic, ctxKind(ctx, t.nc), fmt.Errorf("not written: %s is not known: %w (last error: %w)", what, ctx.Err(), err))
		case !Retryable(err):
			k := Kind(err)
			if errors.Is(err, errNoStream) {
				k = herald.KindInvalid
			}
			return Error(t.scheme, opPublish, topic, k, err)
		}
		// The next round returns ctx's or Close's error if the wait was
		// cut short.
		backoff.Wait(ctx, retry.Next(), t.closing.Done())
	}
}

// push appends e to the taken messages; t.mu is held.
func (t *Topic) push(e *pubEntry) {
	t.open.Add(1)
	t.byMsg[e.nm] = e
	if t.tail == nil {
		t.head = e
	} else {
		t.tail.next = e
	}
	t.tail = e
}

// remove takes back e, which was not written; t.mu is held. It stays
// linked (a later message may follow it), done: a write again takes a
// new entry (retake).
func (t *Topic) remove(e *pubEntry) {
	delete(t.byMsg, e.nm)
	e.state = pubDone
	t.trim()
	t.open.Add(-1) // its done is not called
	t.wakeIdle()
}

// finish marks e done and returns its callback; t.mu is held. The
// caller calls it through answer once t.mu is released.
func (t *Topic) finish(e *pubEntry) func(error) {
	delete(t.byMsg, e.nm)
	e.state, e.err = pubDone, nil
	t.trim()
	return e.done
}

// answer calls done(err) and counts the message answered once done
// returned: Close returns only after every done did.
func (t *Topic) answer(done func(error), err error) {
	done(err)
	if t.open.Add(-1) == 0 && t.closed.Load() {
		t.mu.Lock()
		t.wakeIdle()
		t.mu.Unlock()
	}
}

// wakeIdle lets Close go on when nothing is open; t.mu is held.
func (t *Topic) wakeIdle() {
	if t.idle != nil && t.open.Load() == 0 {
		close(t.idle)
		t.idle = nil
	}
}

// trim drops the finished messages at the head; t.mu is held.
func (t *Topic) trim() {
	// Links are left as they are: a caller may be walking the list.
	for t.head != nil && t.head.state == pubDone {
		t.head = t.head.next
	}
	if t.head == nil {
		t.tail = nil
	}
}

// result is nats.go's answer for m: nil on its PubAck, else why it
// failed. It may run with nats.go's publisher lock held (the ack
// timeout), so it never calls into nats.go, and calls done only for final
// answers, which nats.go reports without that lock.
func (t *Topic) result(m *nats.Msg, err error) {
	if done, derr := t.outcome(m, err); done != nil {
		t.answer(done, derr)
	}
}

// outcome records nats.go's answer for m and returns the done to call
// with its error when the answer is final; a failure the connection
// caused makes the message due for a resend instead.
func (t *Topic) outcome(m *nats.Msg, err error) (func(error), error) {
	t.mu.Lock()
	e, ok := t.byMsg[m]
	if !ok || e.state != pubPending {
		t.mu.Unlock()
		return nil, nil
	}
	if err != nil && Retryable(err) {
		// Written, no answer: the resender writes it again or, past its
		// deadline, reports the outcome unknown.
		e.state, e.err = pubRetry, err
		if t.gate == nil {
			t.gate = make(chan struct{})
		}
		t.mu.Unlock()
		t.signal()
		return nil, nil
	}
	topic, done := e.topic, t.finish(e)
	t.mu.Unlock()
	if err != nil {
		err = Error(t.scheme, opPublish, topic, publishKind(err, true), err)
	}
	return done, err
}

// deny fails every message to subject awaiting its PubAck with err (a
// publish permission the server refused).
func (t *Topic) deny(subject string, err error) {
	var c calls
	t.mu.Lock()
	for e := t.head; e != nil; e = e.next {
		if e.state != pubDone && e.nm.Subject == subject {
			topic := e.topic
			c.add(t.finish(e), Error(t.scheme, opPublish, topic, herald.KindDenied, err))
		}
	}
	t.clearGate()
	t.mu.Unlock()
	t.call(c)
}

func (t *Topic) signal() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// resender fails the messages whose deadline passed without an answer
// and writes again those due, in Send order, once the connection is up.
// One goroutine per topic, one timer: the deadline of the oldest message
// (messages behind it whose deadline is earlier are failed when it is
// settled).
func (t *Topic) resender() {
	defer close(t.ended)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		t.mu.Lock()
		expired := t.expire(now)
		due := t.gate != nil
		var next time.Time
		if t.head != nil {
			next = t.head.deadline
		}
		resendAt := t.lastRound.Add(t.wait)
		t.mu.Unlock()
		t.call(expired)
		connected := t.nc.IsConnected()
		if due && connected {
			if !now.Before(resendAt) {
				t.resend()
				continue
			}
			if next.IsZero() || resendAt.Before(next) {
				next = resendAt
			}
		}
		var up <-chan struct{}
		if due && !connected {
			up = t.watch.Up()
		}
		var fire <-chan time.Time
		if !next.IsZero() {
			timer.Reset(max(time.Until(next), time.Millisecond))
			fire = timer.C
		}
		select {
		case <-t.wake:
		case <-up:
		case <-fire:
		case <-t.stop.Done():
			return
		}
		timer.Stop()
	}
}

// calls are dones to call with their errors once t.mu is released.
type calls struct {
	dones []func(error)
	errs  []error
}

func (c *calls) add(done func(error), err error) {
	c.dones = append(c.dones, done)
	c.errs = append(c.errs, err)
}

// call answers every call of c.
func (t *Topic) call(c calls) {
	for i, done := range c.dones {
		t.answer(done, c.errs[i])
	}
}

// expire finishes the messages at the head whose deadline passed; t.mu
// is held.
func (t *Topic) expire(now time.Time) calls {
	var c calls
	for e := t.head; e != nil && !e.deadline.IsZero() && !now.Before(e.deadline); e = t.head {
		cause := e.err
		if cause == nil {
			cause = errors.New("no acknowledgement")
		}
		topic := e.topic
		c.add(t.finish(e), Error(t.scheme, opPublish, topic, herald.KindOutcomeUnknown,
			fmt.Errorf("written, not acknowledged before the deadline: %w (%w)", context.DeadlineExceeded, cause)))
	}
	t.clearGate()
	return c
}

// clearGate lets Sends through when no resend is due; t.mu is held.
func (t *Topic) clearGate() {
	if t.gate == nil {
		return
	}
	for e := t.head; e != nil; e = e.next {
		if e.state == pubRetry {
			return
		}
	}
	close(t.gate)
	t.gate = nil
}

// resend writes the messages due again, in Send order, holding wmu so
// that no new message overtakes them.
func (t *Topic) resend() {
	var final calls
	defer func() { t.call(final) }()
	t.wmu.Lock()
	defer t.wmu.Unlock()
	var batch []*pubEntry
	t.mu.Lock()
	for e := t.head; e != nil; e = e.next {
		if e.state == pubRetry {
			if errors.Is(e.err, jetstream.ErrNoStreamResponse) || errors.Is(e.err, nats.ErrNoResponders) {
				t.prov.forget(e.topic) // the stream may be gone: look it up (or create it) again
			}
			e.state = pubPending
			batch = append(batch, e)
		}
	}
	t.mu.Unlock()
	record := func(e *pubEntry, err error) {
		if done, derr := t.outcome(e.nm, err); done != nil {
			final.add(done, derr)
		}
	}
	for _, e := range batch {
		if !t.nc.IsConnected() {
			record(e, nats.ErrDisconnected)
			continue
		}
		if _, ok := t.prov.known(e.topic); !ok {
			ctx, cancel := context.WithTimeout(t.stop, attemptTimeout)
			var err error
			if e.nm.Header.Get(jetstream.ScheduleHeader) != "" {
				_, err = t.prov.ensureSchedules(ctx, e.topic) // a new stream takes none yet
			} else {
				_, err = t.prov.ensure(ctx, e.topic)
			}
			cancel()
			if err != nil {
				record(e, err)
				continue
			}
		}
		if _, err := t.js.PublishMsgAsync(e.nm); err != nil {
			record(e, err)
		}
	}
	t.mu.Lock()
	now := time.Now()
	if now.Sub(t.lastRound) < 2*maxResendWait {
		t.wait = t.rounds.Next() // failing again and again
	} else {
		t.rounds.Reset()
		t.wait = minResendWait
	}
	t.lastRound = now
	t.clearGate()
	t.mu.Unlock()
}

// Close implements adapters.Topic: it stops taking messages, waits
// within ctx for the answers of those taken (resending what the
// connection lost meanwhile), fails the rest with KindClosed and closes
// the connection.
func (t *Topic) Close(ctx context.Context) error {
	var err error
	t.once.Do(func() {
		t.mu.Lock()
		t.closed.Store(true)
		t.cancelClosing()
		var idle chan struct{}
		if t.open.Load() > 0 {
			idle = make(chan struct{})
			t.idle = idle
		}
		t.mu.Unlock()
		if idle != nil {
			select {
			case <-idle:
			case <-ctx.Done():
				err = Error(t.scheme, opClose, "", herald.KindOther, fmt.Errorf("messages still awaiting their acknowledgement fail with ErrClosed: %w", ctx.Err()))
			}
		}
		t.cancelStop()
		<-t.ended
		t.wmu.Lock() // no write under way
		t.mu.Lock()
		var left calls
		for e := t.head; e != nil; e = e.next {
			if e.state != pubDone {
				topic := e.topic
				left.add(t.finish(e), closedError(t.scheme, opPublish, topic))
			}
		}
		if t.gate != nil {
			close(t.gate)
			t.gate = nil
		}
		t.mu.Unlock()
		t.wmu.Unlock()
		t.call(left)
		t.watch.Closing()
		t.nc.Close()
		if t.onClose != nil {
			t.onClose()
		}
	})
	return err
}

// As implements adapters.Topic: **nats.Conn, *jetstream.JetStream, and
// what the driver adds (**server.Server for embedded).
func (t *Topic) As(target any) bool {
	switch p := target.(type) {
	case **nats.Conn:
		*p = t.nc
	case *jetstream.JetStream:
		*p = t.js
	default:
		return t.as != nil && t.as(target)
	}
	return true
}
