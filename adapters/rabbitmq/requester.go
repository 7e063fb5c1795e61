package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/internal/replies"
)

const (
	opRequest = "request to"
	opReply   = "reply to"
	// directReplyTo is RabbitMQ's pseudo-queue for Direct Reply-to.
	directReplyTo = "amq.rabbitmq.reply-to"
)

// requester is RabbitMQ's adapters.Requester: Direct Reply-to. One
// channel consumes amq.rabbitmq.reply-to without acks and publishes every
// request (the broker requires both on the same channel), with the
// reply_to property amq.rabbitmq.reply-to (the broker rewrites it to the
// channel's own address on delivery) and the correlation_id property
// matching the reply. Requests are published mandatory: one to a topic
// whose exchange has no queue bound (nobody ever subscribed) comes back
// (basic.return) and fails at once with KindNoResponder. A group's
// durable queue without a consumer keeps the request: it waits for its
// deadline, and a responder that comes later drops it if it expired.
//
// The channel is opened at OpenRequester and again, on the redialled
// connection, by the first request after it was lost; requests waiting
// when it was lost fail (their replies cannot reach a new channel).
type requester struct {
	s     *settings
	conn  *connection
	table *replies.Table
	log   loggerFunc

	mu sync.Mutex
	// sendMu serialises what goes out on ch: amqp091 sends a declare's
	// method frame without the channel lock a publish holds, so a declare
	// by one request could land between the frames of another's publish
	// and the broker closes the channel (505 UNEXPECTED_FRAME; seen once
	// in RequestConcurrent under load).
	sendMu   sync.Mutex
	ch       *amqp.Channel // nil until opened, or after a loss
	consumed chan struct{} // closed when ch's consume loop returned
	declared map[string]bool
	closed   atomic.Bool
	once     sync.Once
}

type loggerFunc func(msg string, args ...any)

func openRequester(ctx context.Context, s *settings, env adapters.Env) (*requester, error) {
	conn, err := dial(ctx, s, logger(env))
	if err != nil {
		return nil, err
	}
	r := &requester{s: s, conn: conn, table: replies.New(), declared: map[string]bool{}, log: logger(env).Debug}
	if _, err := r.channel(ctx); err != nil {
		_ = conn.Close()
		return nil, opError(s.scheme, "open requester", "", err)
	}
	return r, nil
}

// channel returns the open Direct Reply-to channel, opening it (and its
// consumer) on the current connection when needed. r.mu is not held.
func (r *requester) channel(ctx context.Context) (*amqp.Channel, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ch != nil && !r.ch.IsClosed() {
		return r.ch, nil
	}
	if r.ch != nil {
		// The lost channel's loop fails the requests that waited on it:
		// let it finish before requests wait on the next one.
		select {
		case <-r.consumed:
		case <-ctx.Done():
			return nil, unreachable(ctx, errors.New("the lost reply channel is still closing"))
		}
	}
	conn, err := r.conn.wait(ctx, nil)
	if err != nil {
		return nil, err
	}
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open channel: %w", err)
	}
	deliveries, err := ch.Consume(directReplyTo, "", true, false, false, false, nil)
	if err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("consume %s: %w", directReplyTo, err)
	}
	returns := ch.NotifyReturn(make(chan amqp.Return, 16))
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		r.consume(deliveries, returns, closed)
	}()
	r.ch, r.consumed, r.declared = ch, consumed, map[string]bool{}
	return ch, nil
}

// consume hands replies and returned requests to their requests until
// the channel closes; then the requests still waiting fail.
func (r *requester) consume(deliveries <-chan amqp.Delivery, returns <-chan amqp.Return, closed <-chan *amqp.Error) {
	for deliveries != nil || returns != nil {
		select {
		case d, ok := <-deliveries:
			if !ok {
				deliveries = nil
				continue
			}
			r.table.Deliver(d.CorrelationId, replies.Result{Msg: fromDelivery(&d)})
		case ret, ok := <-returns:
			if !ok {
				returns = nil
				continue
			}
			r.table.Deliver(ret.CorrelationId, replies.Result{Err: withKind(herald.KindNoResponder,
				fmt.Errorf("returned by the broker (%d %s): no queue is bound to the exchange %q", ret.ReplyCode, ret.ReplyText, ret.Exchange))})
		}
	}
	cause := errors.New("the reply channel was closed")
	if e, ok := <-closed; ok && e != nil {
		cause = fmt.Errorf("the reply channel was closed: %w", e)
	}
	if !r.closed.Load() {
		r.log("herald/amqp: Direct Reply-to channel lost; the next request opens another", "cause", cause)
		r.table.FailAll(withKind(herald.KindUnreachable, fmt.Errorf("%w: its reply can no longer arrive (the request may have been handled)", cause)))
	}
}

// Request implements adapters.Requester.
func (r *requester) Request(ctx context.Context, topic string, m *herald.Message) (*herald.Message, error) {
	fail := func(err error) error { return opError(r.s.scheme, opRequest, topic, err) }
	if r.closed.Load() {
		return nil, fail(errClosed)
	}
	if err := checkTopic(topic); err != nil {
		return nil, fail(withKind(herald.KindInvalid, err))
	}
	pub, err := publishing(m, herald.Properties{})
	if err == nil {
		err = checkPublishing(pub, r.conn.maxFrame(), 0)
	}
	if err != nil {
		return nil, fail(fmt.Errorf("message %s: %w", m.UUID, err))
	}
	token := herald.NewID()
	pub.ReplyTo, pub.CorrelationId = directReplyTo, token
	pub.DeliveryMode = amqp.Transient // a request outlives no broker restart's deadline
	wait, forget, ok := r.table.Add(token)
	defer forget()
	if !ok {
		return nil, fail(errClosed)
	}
	if err := r.publish(ctx, topic, pub); err != nil {
		return nil, fail(err)
	}
	res, ok := wait(ctx)
	switch {
	case !ok:
		return nil, fail(errClosed)
	case res.Err != nil && ctx.Err() != nil:
		return nil, ctx.Err()
	case res.Err != nil:
		return nil, fail(res.Err)
	}
	return res.Msg, nil
}

// publish declares topic's exchange once per channel and publishes pub
// to it, mandatory, on the reply channel.
func (r *requester) publish(ctx context.Context, topic string, pub amqp.Publishing) error {
	ch, err := r.channel(ctx)
	if err != nil {
		return err
	}
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	r.mu.Lock()
	declared := r.declared[topic]
	r.mu.Unlock()
	if !declared {
		if err := declareExchange(ch, topic); err != nil {
			return fmt.Errorf("declare exchange %q: %w", topic, err)
		}
		r.mu.Lock()
		r.declared[topic] = true
		r.mu.Unlock()
	}
	if err := ch.PublishWithContext(ctx, topic, "", true, false, pub); err != nil {
		return withKind(herald.KindUnreachable, err)
	}
	return nil
}

// Reply implements adapters.Requester: m goes through the default
// exchange to the request's reply_to (amq.rabbitmq.reply-to.…), with its
// correlation_id. A reply to a requester gone is dropped by the broker.
func (r *requester) Reply(ctx context.Context, to adapters.ReplyAddress, m *herald.Message) error {
	fail := func(err error) error { return opError(r.s.scheme, opReply, to.To, err) }
	if r.closed.Load() {
		return fail(errClosed)
	}
	if to.To == "" {
		return fail(withKind(herald.KindInvalid, errors.New("reply address is empty")))
	}
	pub, err := publishing(m, herald.Properties{})
	if err == nil {
		err = checkPublishing(pub, 0, 0)
	}
	if err != nil {
		return fail(fmt.Errorf("message %s: %w", m.UUID, err))
	}
	pub.CorrelationId = to.Correlation
	pub.DeliveryMode = amqp.Transient
	ch, err := r.channel(ctx)
	if err != nil {
		return fail(err)
	}
	r.sendMu.Lock()
	err = ch.PublishWithContext(ctx, "", to.To, false, false, pub)
	r.sendMu.Unlock()
	if err != nil {
		return fail(withKind(herald.KindUnreachable, err))
	}
	return nil
}

// Close implements adapters.Requester.
func (r *requester) Close(context.Context) error {
	r.once.Do(func() {
		r.closed.Store(true)
		r.table.Close()
		r.mu.Lock()
		if r.ch != nil {
			_ = r.ch.Close()
		}
		r.mu.Unlock()
		_ = r.conn.Close()
	})
	return nil
}

// As implements adapters.Requester: *amqp.Connection (the current one).
func (r *requester) As(target any) bool { return asConnection(r.conn, target) }

var _ adapters.Requester = (*requester)(nil)
