package herald

import "context"

// Handler processes one consumed message. Its return value settles the
// message: nil acknowledges it; an error leads to redelivery (see
// Permanent and RetryAfter). A panic is recovered by the subscriber and
// treated as an error. The handler must not call msg.Ack or msg.Nack: the
// subscriber hands it a message whose Ack and Nack settle nothing and
// logs a warning when they contradict the return value.
//
// A func literal or a method value is a Handler; a type with a Handle
// method passes its method value (svc.Handle).
type Handler func(ctx context.Context, msg *Message) error

// Handle calls h(ctx, msg). Middleware call the next handler with it.
func (h Handler) Handle(ctx context.Context, msg *Message) error { return h(ctx, msg) }

// Middleware wraps a Handler. In a list of middleware the first is the
// outermost: it sees the message first and the result last.
type Middleware func(Handler) Handler

// PublishFunc publishes messages to a topic.
type PublishFunc func(ctx context.Context, topic string, msgs ...*Message) error

// PublishMiddleware wraps publishing. In a list the first is the outermost.
type PublishMiddleware func(PublishFunc) PublishFunc

// Publisher publishes messages to topics.
type Publisher interface {
	// Publish sends msgs to topic. It returns nil only after the broker has
	// accepted every message; after Close it returns ErrClosed.
	Publish(ctx context.Context, topic string, msgs ...*Message) error
	// Close releases the publisher. It is idempotent.
	Close() error
}

// Subscriber consumes messages from topics.
type Subscriber interface {
	// Subscribe delivers the messages of topic to h until ctx is done, then
	// lets in-flight handlers finish and returns. A nil return from h acks
	// the message; an error or panic leads to redelivery.
	Subscribe(ctx context.Context, topic string, h Handler) error
	// Close stops every subscription, drains in-flight handlers and
	// releases the subscriber. It is idempotent.
	Close() error
}

// Chain wraps h in mws; mws[0] is the outermost.
func Chain(h Handler, mws ...Middleware) Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		if mws[i] != nil {
			h = mws[i](h)
		}
	}
	return h
}

// ChainPublish wraps p in mws; mws[0] is the outermost.
func ChainPublish(p PublishFunc, mws ...PublishMiddleware) PublishFunc {
	for i := len(mws) - 1; i >= 0; i-- {
		if mws[i] != nil {
			p = mws[i](p)
		}
	}
	return p
}
