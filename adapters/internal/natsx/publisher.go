package natsx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// attemptTimeout bounds the wait for one PubAck before the message is sent
// again (with the same Nats-Msg-Id, so the stream keeps one copy).
const attemptTimeout = 5 * time.Second

// Publisher is a Watermill publisher to JetStream. Publish sends every
// message of a call without waiting, then waits for all the PubAcks; it
// returns nil only when the stream has stored every message. Messages whose
// ack does not come (disconnect, timeout, JetStream not ready after a
// restart) are sent again until the context ends or PublishTimeout passed;
// the Nats-Msg-Id header (see Marshaler) makes the stream keep one copy of
// a resend within its duplicates window.
type Publisher struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	set     Settings
	scheme  string
	prov    *provisioner
	m       Marshaler
	watch   *ConnWatch
	closed  atomic.Bool
	stop    context.Context // cancelled by Close, after the final flush
	cancel  context.CancelFunc
	once    sync.Once
	onClose func()
	as      func(any) bool

	// PublishAsync: the window's slots, the taken messages in order with
	// their results, and the goroutine that calls done (started on first
	// use).
	slots     chan struct{}
	win       *asyncWindow
	asyncOnce sync.Once
	asyncDone chan struct{}
	amu       sync.Mutex
	takers    int           // PublishAsync calls between the closed check and the queue
	untaken   chan struct{} // closed when takers drops to 0 (set by Close)
}

var (
	_ message.Publisher         = (*Publisher)(nil)
	_ adapters.ContextPublisher = (*Publisher)(nil)
)

// Options configure what NewPublisher and NewSubscriber attach to the
// objects they return.
type Options struct {
	// Scheme names the backend in errors and logs ("nats", "embedded";
	// default "nats").
	Scheme string
	// OnClose runs after the connection is closed (once).
	OnClose func()
	// As answers escape-hatch requests the natsx objects do not know.
	As func(target any) bool
	// Logger receives what the publisher and subscriber report on their
	// own: lost and restored connections and subscriptions (nil:
	// slog.Default()).
	Logger *slog.Logger
}

func (o *Options) defaults() {
	if o.Scheme == "" {
		o.Scheme = "nats"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// NewPublisher returns a JetStream publisher over nc, which it owns: Close
// closes nc.
func NewPublisher(nc *nats.Conn, set Settings, o Options) (*Publisher, error) {
	o.defaults()
	p := &Publisher{
		nc: nc, set: set, scheme: o.Scheme, onClose: o.OnClose, as: o.As,
		slots: make(chan struct{}, set.MaxPending), win: newAsyncWindow(set.MaxPending),
		asyncDone: make(chan struct{}),
	}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(set.MaxPending),
		jetstream.WithPublishAsyncTimeout(attemptTimeout),
		jetstream.WithPublishAsyncAckHandler(p.onAck),
		jetstream.WithPublishAsyncErrHandler(p.onErr))
	if err != nil {
		return nil, fmt.Errorf("herald/%s: jetstream: %w", o.Scheme, err)
	}
	p.js = js
	p.stop, p.cancel = context.WithCancel(context.Background())
	p.watch = NewConnWatch(nc, o.Logger, o.Scheme, "publisher")
	// A refused publish gets no PubAck: fail its messages now rather
	// than wait for the publish timeout (waiting cannot fix it).
	p.watch.Listen(func(err error) {
		if subject, ok := deniedSubject(err); ok {
			p.win.deny(subject, publishDenied(nc, subject, err))
		}
	})
	p.prov = newProvisioner(js, &p.set)
	return p, nil
}

// Publish is PublishContext with the first message's context.
func (p *Publisher) Publish(topic string, msgs ...*message.Message) error {
	ctx := context.Background()
	if len(msgs) > 0 {
		ctx = msgs[0].Context()
	}
	return p.PublishContext(ctx, topic, msgs...)
}

// PublishContext stores msgs in the topic's stream, in order, and returns
// once every message is acknowledged by JetStream. It waits for the
// connection and resends unacknowledged messages until ctx ends or
// PublishTimeout passed; then it returns an error wrapping
// herald.ErrUnreachable and the context's error. Close interrupts it. It
// does not start goroutines or change the messages.
func (p *Publisher) PublishContext(ctx context.Context, topic string, msgs ...*message.Message) error {
	if p.closed.Load() {
		return closedError(p.scheme, opPublish, topic)
	}
	if err := CheckTopic(topic); err != nil {
		return opError(p.scheme, opPublish, topic, err)
	}
	if len(msgs) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return opError(p.scheme, opPublish, topic, err)
	}
	ctx, cancel := p.bound(ctx)
	defer cancel()

	out := make([]*nats.Msg, len(msgs))
	for i, m := range msgs {
		nm, err := p.m.Marshal(topic, m)
		if err != nil {
			return opError(p.scheme, opPublish, topic, fmt.Errorf("marshal message %q: %w", m.UUID, err))
		}
		out[i] = nm
	}
	pending := out
	var lastErr error
	for attempt := 0; ; attempt++ {
		if err := p.waitConnected(ctx); err != nil {
			return p.fail(ctx, topic, len(pending), len(msgs), lastErr)
		}
		if _, err := p.ensure(ctx, topic); err != nil {
			if p.ended(ctx) {
				return p.fail(ctx, topic, len(pending), len(msgs), lastErr)
			}
			if !Retryable(err) {
				return opError(p.scheme, opPublish, topic, err)
			}
			lastErr = err
		} else {
			failed, err := p.round(ctx, pending)
			if len(failed) == 0 {
				return nil
			}
			pending = failed
			if p.ended(ctx) {
				return p.fail(ctx, topic, len(pending), len(msgs), lastErr)
			}
			if !Retryable(err) {
				return opError(p.scheme, opPublish, topic, fmt.Errorf("%d of %d messages not stored: %w", len(failed), len(msgs), err))
			}
			lastErr = err
			if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
				p.prov.forget(topic) // the stream may be gone: look it up again
			}
		}
		wait := min(time.Duration(attempt+1)*100*time.Millisecond, time.Second)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return p.fail(ctx, topic, len(pending), len(msgs), lastErr)
		case <-p.stop.Done():
			t.Stop()
			return p.fail(ctx, topic, len(pending), len(msgs), lastErr)
		case <-t.C:
		}
	}
}

// fail is the error of a publish whose context ended (or whose publisher
// closed) before every message was acknowledged.
func (p *Publisher) fail(ctx context.Context, topic string, n, total int, last error) error {
	var cause error
	switch {
	case p.closed.Load():
		cause = herald.ErrClosed
	case !p.nc.IsConnected() || last != nil || errors.Is(ctx.Err(), context.DeadlineExceeded):
		// Not connected, or the broker did not answer in time.
		cause = fmt.Errorf("%w: %w", herald.ErrUnreachable, ctx.Err())
	default:
		cause = ctx.Err()
	}
	if last != nil {
		cause = fmt.Errorf("%w (last broker error: %w)", cause, last)
	}
	return opError(p.scheme, opPublish, topic, fmt.Errorf("%d of %d messages not acknowledged: %w", n, total, cause))
}

// round sends msgs asynchronously and waits for their acks; it returns the
// messages not acknowledged, in publish order, and the last error. A send
// that fails stops the round: the rest is returned for the next round, so a
// resend keeps the order unless an ack itself was lost. The results come
// from nats.go's PubAck callbacks (see asyncWindow), not from futures.
func (p *Publisher) round(ctx context.Context, msgs []*nats.Msg) ([]*nats.Msg, error) {
	ch := make(chan pubResult, len(msgs))
	w := p.win
	w.wait(msgs, ch)
	defer w.unwait(msgs)
	sent := len(msgs)
	var lastErr error
	for i, m := range msgs {
		// nats.go sends a copy and keeps m, unchanged.
		if _, err := p.js.PublishMsgAsync(m); err != nil {
			lastErr, sent = err, i
			break
		}
	}
	var (
		errs []error // by index, when one failed
		got  int
	)
	for got < sent {
		select {
		case r := <-ch:
			if r.i >= sent {
				continue // a send that failed at once: not counted
			}
			got++
			if r.err != nil {
				if errs == nil {
					errs = make([]error, len(msgs))
				}
				errs[r.i], lastErr = r.err, r.err
			}
		case <-ctx.Done():
			return p.unacked(msgs, errs, sent, ch), ctx.Err()
		case <-p.stop.Done():
			return p.unacked(msgs, errs, sent, ch), herald.ErrClosed
		}
	}
	if errs == nil && sent == len(msgs) {
		return nil, nil
	}
	var failed []*nats.Msg
	for i, m := range msgs[:sent] {
		if errs != nil && errs[i] != nil {
			failed = append(failed, m)
		}
	}
	return append(failed, msgs[sent:]...), lastErr
}

// unacked is every message of a round cut short that was not
// acknowledged, in order: the failed, those without a result yet and the
// unsent.
func (p *Publisher) unacked(msgs []*nats.Msg, errs []error, sent int, ch chan pubResult) []*nats.Msg {
	ok := make([]bool, len(msgs))
	for {
		select {
		case r := <-ch:
			if r.i < sent && r.err == nil {
				ok[r.i] = true
			}
			continue
		default:
		}
		break
	}
	var out []*nats.Msg
	for i, m := range msgs {
		if i >= sent || !ok[i] || (errs != nil && errs[i] != nil) {
			out = append(out, m)
		}
	}
	return out
}

// waitConnected waits until the connection is up or ctx ends.
func (p *Publisher) waitConnected(ctx context.Context) error {
	if p.nc.IsConnected() {
		return nil
	}
	select {
	case <-p.watch.Up():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-p.stop.Done():
		return herald.ErrClosed
	}
}

// bound is ctx limited to PublishTimeout (ctx itself when its deadline
// is sooner: no allocation).
func (p *Publisher) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= p.set.PublishTimeout {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, p.set.PublishTimeout)
}

// ended reports whether a publish with ctx must stop: ctx ended or the
// publisher closed.
func (p *Publisher) ended(ctx context.Context) bool {
	return ctx.Err() != nil || p.stop.Err() != nil
}

// ensure is prov.ensure, interrupted by Close when the topic's stream is
// not known yet, and bounded by attemptTimeout: a JetStream API request
// sent while the cluster has no meta leader (its server was just killed)
// gets no answer at all, so one lookup must not take the whole publish
// timeout; the caller looks again (TestNATSClusterFailover: a publish
// stuck 28 s before this bound, ~3 s with it).
func (p *Publisher) ensure(ctx context.Context, topic string) (target, error) {
	if t, ok := p.prov.known(topic); ok {
		return t, nil
	}
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	stop := context.AfterFunc(p.stop, cancel)
	defer stop()
	return p.prov.ensure(ctx, topic)
}

// Retryable reports whether sending again may succeed.
func Retryable(err error) bool {
	return errors.Is(err, nats.ErrDisconnected) ||
		errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, nats.ErrReconnectBufExceeded) ||
		errors.Is(err, nats.ErrConnectionReconnecting) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) ||
		errors.Is(err, jetstream.ErrAsyncPublishTimeout) ||
		errors.Is(err, jetstream.ErrTooManyStalledMsgs) ||
		errors.Is(err, jetstream.ErrJetStreamNotEnabled)
}

// Close flushes, interrupts the publishes still waiting and closes the
// connection. It is idempotent.
func (p *Publisher) Close() error {
	var err error
	p.once.Do(func() {
		p.amu.Lock()
		p.closed.Store(true)
		p.amu.Unlock()
		p.closeAsync()
		if p.nc.IsConnected() {
			err = p.nc.FlushTimeout(2 * time.Second)
		}
		p.cancel()
		// Without PublishAsync calls this marks the waiter as never to run.
		started := true
		p.asyncOnce.Do(func() { started = false })
		p.failAsync(started) // done called for every taken message
		p.watch.Closing()
		p.nc.Close()
		if p.onClose != nil {
			p.onClose()
		}
	})
	if err != nil {
		return fmt.Errorf("herald/%s: close publisher: %w", p.scheme, err)
	}
	return nil
}

// As gives access to the underlying objects: **nats.Conn,
// *jetstream.JetStream, *message.Publisher, and what the adapter adds
// (e.g. **server.Server for embedded).
func (p *Publisher) As(target any) bool {
	switch t := target.(type) {
	case **nats.Conn:
		*t = p.nc
	case *jetstream.JetStream:
		*t = p.js
	case *message.Publisher:
		*t = p
	default:
		return p.as != nil && p.as(target)
	}
	return true
}
