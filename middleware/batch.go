package middleware

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/heraldkit/herald"
)

// BatchRecover returns batch middleware that turns a panic in the batch
// handler chain inside it into a *herald.PanicError carrying the panic
// value and the stack: the whole batch is retried. The subscriber
// recovers panics too, at the outermost level; BatchRecover lets batch
// middleware outside it (tracing, metrics) see the panic as an error.
func BatchRecover() herald.BatchMiddleware {
	return func(next herald.BatchHandler) herald.BatchHandler {
		return func(ctx context.Context, b *herald.Batch) (err error) {
			defer func() {
				if p := recover(); p != nil {
					pe := &herald.PanicError{Value: p, Stack: debug.Stack()}
					err = pe
					if e, ok := p.(error); ok && herald.IsPermanent(e) {
						err = herald.Permanent(pe)
					}
				}
			}()
			return next.Handle(ctx, b)
		}
	}
}

// BatchDeadLetter returns batch middleware that parks the messages the
// batch handler inside it marked herald.OutcomeDeadLetter: it publishes
// their copies (the same format as DeadLetter's: payload and metadata,
// key included, a new ID, the DLQ*Header metadata; DLQAttemptsHeader is
// the message's Delivery.Attempt) to topic through pub in one Publish
// call, and marks them herald.OutcomeDeadLettered, which the subscriber
// acks. TopicPlaceholder in topic is replaced by the consumed topic. The
// reason is DLQReasonPermanent for a herald.Permanent error,
// DLQReasonExhausted for an error wrapping ErrRetriesExhausted, else
// DLQReasonFailed.
//
// If the publish fails, or pub or topic is not set, those messages are
// marked herald.OutcomeRetry with an error wrapping ErrDeadLetterFailed
// (or ErrDeadLetterNotConfigured) and their own: a message is never
// dropped. A failed multi-message publish may have stored some copies:
// they are published again with the retry (at-least-once). While ctx is
// done (the subscriber is stopping) nothing is dead-lettered: the
// messages are retried.
func BatchDeadLetter(pub herald.Publisher, topic string, opts ...DeadLetterOption) herald.BatchMiddleware {
	c := newDeadLetterConfig(opts)
	return func(next herald.BatchHandler) herald.BatchHandler {
		return func(ctx context.Context, b *herald.Batch) error {
			if err := next.Handle(ctx, b); err != nil {
				return err
			}
			var idx []int
			for i := range b.Len() {
				if b.Result(i).Outcome == herald.OutcomeDeadLetter {
					idx = append(idx, i)
				}
			}
			if len(idx) == 0 {
				return nil
			}
			retry := func(wrap error) {
				for _, i := range idx {
					b.Retry(i, fmt.Errorf("%w; message left for redelivery: %w", wrap, b.Result(i).Err))
				}
			}
			if err := ctx.Err(); err != nil {
				retry(err)
				return nil
			}
			if pub == nil || topic == "" {
				retry(ErrDeadLetterNotConfigured)
				return nil
			}
			d, _ := herald.DeliveryFromContext(ctx)
			dlTopic := strings.ReplaceAll(topic, TopicPlaceholder, d.Topic)
			now := c.now().UTC()
			copies := make([]*herald.Message, 0, len(idx))
			attempts := make([]int, 0, len(idx))
			for _, i := range idx {
				msg, res := b.Messages[i], b.Result(i)
				md := d
				if m, ok := herald.DeliveryFromContext(msg.Context()); ok {
					md = m
				}
				reason := DLQReasonFailed
				switch {
				case errors.Is(res.Err, ErrRetriesExhausted):
					reason = DLQReasonExhausted
				case herald.IsPermanent(res.Err):
					reason = DLQReasonPermanent
				}
				n := max(md.Attempt, 1)
				attempts = append(attempts, n)
				copies = append(copies, c.deadLetterCopy(msg, md, res.Err, reason, n, now, now))
			}
			if perr := pub.Publish(ctx, dlTopic, copies...); perr != nil {
				retry(fmt.Errorf("%w: topic %q: %w", ErrDeadLetterFailed, dlTopic, perr))
				return nil
			}
			for k, i := range idx {
				res := b.Result(i)
				b.Set(i, herald.BatchResult{Outcome: herald.OutcomeDeadLettered, Err: res.Err, DeadLetterTopic: dlTopic})
				e := Event{Kind: EventDeadLetter, Topic: d.Topic, MessageID: b.Messages[i].UUID, Attempt: attempts[k], Err: res.Err, DeadLetterTopic: dlTopic}
				for _, fn := range c.onDead {
					fn(ctx, e)
				}
			}
			return nil
		}
	}
}
