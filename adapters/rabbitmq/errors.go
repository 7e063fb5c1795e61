package rabbitmq

import (
	"context"
	"errors"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldkit/herald"
)

// Operations named in errors (herald.Error.Op):
// herald/amqp: publish to "orders": <cause>.
const (
	opPublish   = "publish to"
	opSubscribe = "subscribe to"
	opPrepare   = "prepare"
	opClose     = "close"
)

// kinded attaches a herald.Kind to a cause inside the driver; opError
// turns it into the *herald.Error callers see. Sentinels are not wrapped
// inside causes: the Kind says what the error is, once.
type kinded struct {
	kind herald.Kind
	err  error
}

func (k *kinded) Error() string { return k.err.Error() }
func (k *kinded) Unwrap() error { return k.err }

// withKind marks err as being of kind.
func withKind(kind herald.Kind, err error) error { return &kinded{kind: kind, err: err} }

// kindOf is the kind of a cause: the innermost withKind, else what
// herald.KindOf finds (a *herald.Error or a sentinel in the chain).
func kindOf(err error) herald.Kind {
	var k *kinded
	if errors.As(err, &k) {
		return k.kind
	}
	return herald.KindOf(err)
}

// opError is the *herald.Error of op on topic ("" for none) with cause
// err; an err that already is one for the same op and topic is returned
// as is.
func opError(scheme, op, topic string, err error) *herald.Error {
	var he *herald.Error
	if errors.As(err, &he) && he.Op == op && he.Topic == topic && he.Backend == scheme {
		return he
	}
	return &herald.Error{Backend: scheme, Op: op, Topic: topic, Kind: kindOf(err), Err: err}
}

// errClosed is the cause once Close was called.
var errClosed = withKind(herald.KindClosed, errors.New("closed"))

// errNotConnected is the cause while the connection is being
// re-established.
var errNotConnected = errors.New("not connected to the broker (reconnecting)")

// unreachable is the cause of a wait for the broker that ctx ended: ctx's
// error and, when known, why the connection is down.
func unreachable(ctx context.Context, last error) error {
	if last == nil {
		return withKind(herald.KindUnreachable, context.Cause(ctx))
	}
	return withKind(herald.KindUnreachable, fmt.Errorf("%w (last error: %w)", context.Cause(ctx), last))
}

// outcomeUnknown is the cause of a message written to the broker whose
// confirm did not come: the broker may have stored it.
func outcomeUnknown(id string, cause error) error {
	return withKind(herald.KindOutcomeUnknown, fmt.Errorf("message %s written, no confirm (the broker may have stored it): %w", id, cause))
}

// connectError wraps a failure to connect. It names the host and vhost,
// never the credentials: the URI given to the client carries none.
func connectError(s *settings, err error) *herald.Error {
	return opError(s.scheme, fmt.Sprintf("connect to %s (vhost %q)", s.host, s.vhost), "", err)
}

// isConnectionError reports whether e, received when a channel closed,
// is about the whole connection (lost, or closed by the broker) rather
// than the channel alone: channel-level errors are AMQP "soft" errors,
// which the client marks recoverable.
func isConnectionError(e *amqp.Error) bool {
	return e == nil || !e.Server || !e.Recover
}

// accessRefused is the cause of an ACCESS_REFUSED: what was refused, to
// which user, and the permission to check.
// what is the operation refused, e.g. "publish (write to the exchange)".
func accessRefused(s *settings, what string, err error) error {
	return withKind(herald.KindDenied, fmt.Errorf("permission denied to %s for user %q in vhost %q (check the user's configure, write and read permissions): %w",
		what, s.user, s.vhost, err))
}
