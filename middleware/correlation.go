package middleware

import (
	"context"

	"github.com/heraldkit/herald"
)

// CorrelationIDHeader is the metadata header that carries a message's
// correlation ID. On RabbitMQ it is also the AMQP correlation_id
// property, both ways (a foreign client's correlation_id arrives here).
const CorrelationIDHeader = "herald-correlation-id"

type correlationKey struct{}

// ContextWithCorrelationID returns ctx carrying the correlation ID id;
// messages published with it (through PublishCorrelationID) carry id.
func ContextWithCorrelationID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, correlationKey{}, id)
}

// CorrelationIDFromContext returns the correlation ID carried by ctx, or "".
func CorrelationIDFromContext(ctx context.Context) string {
	id, _ := ctx.Value(correlationKey{}).(string)
	return id
}

// CorrelationID returns consumer middleware that puts the consumed
// message's correlation ID (its CorrelationIDHeader, or its message ID
// when it has none) into the handler's ctx: see CorrelationIDFromContext.
// Messages the handler publishes with that ctx, through a publisher with
// PublishCorrelationID, carry the same ID, so a chain of messages can be
// followed across services. Logging adds it to its lines.
func CorrelationID() herald.Middleware {
	return func(next herald.Handler) herald.Handler {
		return herald.Handler(func(ctx context.Context, msg *herald.Message) error {
			id := msg.Metadata.Get(CorrelationIDHeader)
			if id == "" {
				id = msg.UUID
			}
			return next.Handle(ContextWithCorrelationID(ctx, id), msg)
		})
	}
}

// PublishCorrelationID returns publish middleware that sets
// CorrelationIDHeader on each message that does not have it yet: to the
// ID carried by ctx (see CorrelationID), or to a new ID when ctx has none,
// the same for every message of one Publish call. The ID is also put in
// the ctx passed on, for the publish middleware inside it.
func PublishCorrelationID() herald.PublishMiddleware {
	return func(next herald.PublishFunc) herald.PublishFunc {
		return func(ctx context.Context, topic string, msgs ...*herald.Message) error {
			id := CorrelationIDFromContext(ctx)
			if id == "" {
				id = herald.NewID()
				ctx = ContextWithCorrelationID(ctx, id)
			}
			for _, m := range msgs {
				if m.Metadata == nil {
					m.Metadata = make(map[string]string)
				}
				if m.Metadata.Get(CorrelationIDHeader) == "" {
					m.Metadata.Set(CorrelationIDHeader, id)
				}
			}
			return next(ctx, topic, msgs...)
		}
	}
}
