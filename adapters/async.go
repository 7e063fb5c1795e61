package adapters

import (
	"context"

	"github.com/ThreeDotsLabs/watermill/message"
)

// AsyncPublisher is implemented by an adapter's Watermill publisher that
// pipelines publishes: Herald's fast publish path, used by the publisher
// package for PublishAsync and for Publish of several messages. (A
// Publish of one message uses ContextPublisher, whose concurrent calls
// must pipeline too: each caller waits only for its own acknowledgement.)
type AsyncPublisher interface {
	// PublishAsync hands msg to the backend and returns nil, or an error
	// when msg was not taken (then done is not called): a closed
	// publisher, an invalid message, or ctx ending while the adapter's
	// own window is full. done is called exactly once per taken message,
	// from any goroutine, with nil once the broker acknowledged it, or
	// with the error (wrapping herald.ErrUnreachable when the adapter's
	// publish timeout expired waiting for an unreachable broker,
	// herald.ErrClosed when the publisher closed first). done must not
	// block. msg must not be changed until done was called.
	PublishAsync(ctx context.Context, topic string, msg *message.Message, done func(error)) error
}
