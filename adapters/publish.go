package adapters

import (
	"context"

	"github.com/ThreeDotsLabs/watermill/message"
)

// ContextPublisher is implemented by an adapter's Watermill publisher that
// honours a context per call. The publisher package calls PublishContext
// when it is available, so that a Publish whose ctx ends returns at once
// without a goroutine per call and without changing the caller's
// messages; otherwise it calls Publish.
//
// PublishContext returns nil only once the broker has acknowledged every
// message. While the broker is unreachable it waits for the connection to
// come back (it does not fail at once) until ctx is done; then it returns
// an error that wraps herald.ErrUnreachable and ctx.Err(). Errors that
// waiting cannot fix (a message over the broker's size limit, a refused
// permission) are returned at once.
type ContextPublisher interface {
	PublishContext(ctx context.Context, topic string, msgs ...*message.Message) error
}
