package rabbitmq

import (
	"context"
	"errors"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldkit/herald"
)

// Operations named in errors, in the style of adapters/doc.go:
// herald/amqp: publish to "orders": <cause>.
const (
	opPublish    = "publish to"
	opSubscribe  = "subscribe to"
	opInitialize = "initialize"
)

// opError names the backend (the scheme the user wrote), the operation
// and the topic, and wraps cause.
func opError(scheme, op, topic string, cause error) error {
	return fmt.Errorf("herald/%s: %s %q: %w", scheme, op, topic, cause)
}

// errNotConnected is the cause while the connection is being
// re-established.
var errNotConnected = errors.New("not connected to the broker (reconnecting)")

// unreachable is the cause of a wait for the broker that ctx ended: it
// wraps herald.ErrUnreachable, ctx's error and, when known, why the
// connection is down.
func unreachable(ctx context.Context, last error) error {
	if last == nil {
		return fmt.Errorf("%w: %w", herald.ErrUnreachable, context.Cause(ctx))
	}
	return fmt.Errorf("%w: %w (last error: %w)", herald.ErrUnreachable, context.Cause(ctx), last)
}

// connectError wraps a failure to connect. It names the host and vhost,
// never the credentials: the URI given to the client carries none.
func connectError(s *settings, err error) error {
	return fmt.Errorf("herald/%s: connect to %s (vhost %q): %w", s.scheme, s.host, s.vhost, err)
}

// isConnectionError reports whether e, received when a channel closed,
// is about the whole connection (lost, or closed by the broker) rather
// than the channel alone: channel-level errors are AMQP "soft" errors,
// which the client marks recoverable.
func isConnectionError(e *amqp.Error) bool {
	return e == nil || !e.Server || !e.Recover
}
