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
)

// attemptTimeout bounds the wait for one PubAck before the message is sent
// again (with the same Nats-Msg-Id, so the stream keeps one copy).
const attemptTimeout = 5 * time.Second

// Publisher is a Watermill publisher to JetStream. Publish sends every
// message of a call without waiting, then waits for all the PubAcks; it
// returns nil only when the stream has stored every message. Messages whose
// ack does not come (disconnect, timeout, JetStream not ready after a
// restart) are sent again until PublishTimeout; the message ID travels as
// Nats-Msg-Id, so a resend within the stream's duplicates window is stored
// once.
type Publisher struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	set     Settings
	prov    *provisioner
	m       Marshaler
	closed  atomic.Bool
	once    sync.Once
	onClose func()
	as      func(any) bool
}

var _ message.Publisher = (*Publisher)(nil)

// Options configure what NewPublisher and NewSubscriber attach to the
// objects they return.
type Options struct {
	// OnClose runs after the connection is closed (once).
	OnClose func()
	// As answers escape-hatch requests the natsx objects do not know.
	As func(target any) bool
	// Logger receives what the subscriber reports on its own (nil:
	// slog.Default()).
	Logger *slog.Logger
}

// NewPublisher returns a JetStream publisher over nc, which it owns: Close
// closes nc.
func NewPublisher(nc *nats.Conn, set Settings, o Options) (*Publisher, error) {
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(set.MaxPending),
		jetstream.WithPublishAsyncTimeout(attemptTimeout))
	if err != nil {
		return nil, fmt.Errorf("herald/nats: jetstream: %w", err)
	}
	p := &Publisher{nc: nc, js: js, set: set, onClose: o.OnClose, as: o.As}
	p.prov = newProvisioner(js, &p.set)
	return p, nil
}

// Publish stores msgs in the topic's stream, in order, and returns once
// every message is acknowledged by JetStream. The first message's context
// can cancel the wait.
func (p *Publisher) Publish(topic string, msgs ...*message.Message) error {
	if p.closed.Load() {
		return fmt.Errorf("herald/nats: publish to %q: %w", topic, herald.ErrClosed)
	}
	if err := CheckTopic(topic); err != nil {
		return err
	}
	if len(msgs) == 0 {
		return nil
	}
	ctx := msgs[0].Context()
	ctx, cancel := context.WithTimeout(ctx, p.set.PublishTimeout)
	defer cancel()

	out := make([]*nats.Msg, len(msgs))
	for i, m := range msgs {
		nm, err := p.m.Marshal(topic, m)
		if err != nil {
			return fmt.Errorf("herald/nats: marshal message %q: %w", m.UUID, err)
		}
		out[i] = nm
	}
	pending := out
	var lastErr error
	for attempt := 0; ; attempt++ {
		if _, err := p.prov.ensure(ctx, topic); err != nil {
			return p.fail(topic, len(pending), len(msgs), lastErr, err)
		}
		failed, err := p.round(ctx, pending)
		if len(failed) == 0 {
			return nil
		}
		lastErr = err
		if !retryable(err) {
			return p.fail(topic, len(failed), len(msgs), nil, err)
		}
		if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
			p.prov.forget(topic) // the stream may be gone: look it up again
		}
		pending = failed
		wait := time.Duration(attempt+1) * 100 * time.Millisecond
		if wait > time.Second {
			wait = time.Second
		}
		select {
		case <-ctx.Done():
			return p.fail(topic, len(pending), len(msgs), lastErr, ctx.Err())
		case <-time.After(wait):
		}
	}
}

func (p *Publisher) fail(topic string, n, total int, last, err error) error {
	if p.closed.Load() {
		err = errors.Join(herald.ErrClosed, err)
	}
	if last != nil && !errors.Is(err, last) {
		err = fmt.Errorf("%w (last broker error: %w)", err, last)
	}
	return fmt.Errorf("herald/nats: publish to %q: %d of %d messages not acknowledged: %w", topic, n, total, err)
}

// round sends msgs asynchronously and waits for their acks; it returns the
// messages not acknowledged, in publish order, and the last error. A send
// that fails stops the round: the rest is returned for the next round, so a
// resend keeps the order unless an ack itself was lost.
func (p *Publisher) round(ctx context.Context, msgs []*nats.Msg) ([]*nats.Msg, error) {
	if err := p.waitConnected(ctx); err != nil {
		return msgs, err
	}
	futures := make([]jetstream.PubAckFuture, 0, len(msgs))
	var unsent []*nats.Msg
	var lastErr error
	for i, m := range msgs {
		// A fresh nats.Msg each time: nats.go keeps a reference in the future.
		f, err := p.js.PublishMsgAsync(&nats.Msg{Subject: m.Subject, Header: m.Header, Data: m.Data})
		if err != nil {
			lastErr, unsent = err, msgs[i:]
			break
		}
		futures = append(futures, f)
	}
	var failed []*nats.Msg
	for i, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			lastErr = err
			failed = append(failed, msgs[i])
		case <-ctx.Done():
			return append(append(failed, msgs[i:len(futures)]...), unsent...), ctx.Err()
		}
	}
	return append(failed, unsent...), lastErr
}

func (p *Publisher) waitConnected(ctx context.Context) error {
	for !p.nc.IsConnected() {
		if p.nc.IsClosed() {
			return nats.ErrConnectionClosed
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", nats.ErrDisconnected, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// retryable reports whether sending again may succeed.
func retryable(err error) bool {
	return errors.Is(err, nats.ErrDisconnected) ||
		errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, nats.ErrReconnectBufExceeded) ||
		errors.Is(err, nats.ErrConnectionReconnecting) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) ||
		errors.Is(err, jetstream.ErrAsyncPublishTimeout) ||
		errors.Is(err, jetstream.ErrTooManyStalledMsgs)
}

// Close closes the connection after flushing. It is idempotent.
func (p *Publisher) Close() error {
	var err error
	p.once.Do(func() {
		p.closed.Store(true)
		if p.nc.IsConnected() {
			err = p.nc.FlushTimeout(2 * time.Second)
		}
		p.nc.Close()
		if p.onClose != nil {
			p.onClose()
		}
	})
	if err != nil {
		return fmt.Errorf("herald/nats: close publisher: %w", err)
	}
	return nil
}

// As gives access to the underlying objects: **nats.Conn,
// *jetstream.JetStream, **Publisher, *message.Publisher, and what the
// adapter adds (e.g. **server.Server for embedded).
func (p *Publisher) As(target any) bool {
	switch t := target.(type) {
	case **nats.Conn:
		*t = p.nc
	case *jetstream.JetStream:
		*t = p.js
	case **Publisher:
		*t = p
	case *message.Publisher:
		*t = p
	default:
		return p.as != nil && p.as(target)
	}
	return true
}
