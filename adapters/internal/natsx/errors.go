package natsx

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldkit/herald"
)

// Operation names used in errors.
const (
	opPublish   = "publish to"
	opSubscribe = "subscribe to"
	opPrepare   = "prepare"
	opClose     = "close"
)

// Error is the *herald.Error of op on topic for scheme.
func Error(scheme, op, topic string, kind herald.Kind, cause error) error {
	return &herald.Error{Backend: scheme, Op: op, Topic: topic, Kind: kind, Err: cause}
}

// closedError is the error of an operation on topic after Close.
func closedError(scheme, op, topic string) error {
	return Error(scheme, op, topic, herald.KindClosed, nil)
}

// Kind classifies an error of nats.go or its jetstream package; errors
// that waiting for the server may fix are KindUnreachable. A publish's
// error is classified by the caller, which knows whether the message was
// written (publishKind).
func Kind(err error) herald.Kind {
	var apiErr *jetstream.APIError
	switch {
	case err == nil:
		return herald.KindOther
	case errors.Is(err, nats.ErrMaxPayload), errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum):
		return herald.KindTooLarge
	case errors.Is(err, nats.ErrPermissionViolation), errors.Is(err, nats.ErrAuthorization),
		errors.Is(err, nats.ErrAuthExpired), errors.Is(err, nats.ErrAuthRevoked),
		errors.Is(err, nats.ErrAccountAuthExpired):
		return herald.KindDenied
	case errors.Is(err, nats.ErrBadSubject), errors.Is(err, nats.ErrHeadersNotSupported),
		errors.Is(err, nats.ErrInvalidMsg), errors.Is(err, jetstream.ErrInvalidSubject):
		return herald.KindInvalid
	case errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrDisconnected),
		errors.Is(err, nats.ErrConnectionReconnecting), errors.Is(err, nats.ErrReconnectBufExceeded),
		errors.Is(err, nats.ErrNoServers), errors.Is(err, nats.ErrTimeout), errors.Is(err, nats.ErrNoResponders),
		errors.Is(err, jetstream.ErrNoStreamResponse), errors.Is(err, jetstream.ErrAsyncPublishTimeout),
		errors.Is(err, jetstream.ErrTooManyStalledMsgs), errors.Is(err, jetstream.ErrJetStreamNotEnabled),
		errors.Is(err, context.DeadlineExceeded):
		return herald.KindUnreachable
	case errors.As(err, &apiErr):
		switch {
		case apiErr.Code == 403:
			return herald.KindDenied
		case apiErr.Code == 503:
			return herald.KindUnreachable
		case apiErr.Code == 400:
			return herald.KindInvalid
		}
	}
	return herald.KindOther
}

// Retryable reports whether sending again may succeed.
func Retryable(err error) bool {
	return Kind(err) == herald.KindUnreachable && !errors.Is(err, nats.ErrConnectionClosed)
}

// publishKind is the kind of a failed publish: a message written to the
// connection whose answer did not come, or came as a transport failure,
// may be stored (KindOutcomeUnknown); a refusal keeps its own kind.
func publishKind(err error, written bool) herald.Kind {
	k := Kind(err)
	if k == herald.KindUnreachable && written {
		return herald.KindOutcomeUnknown
	}
	return k
}

// ctxKind is the kind of an operation cut short by ctx before anything
// was written: unreachable when the deadline passed or the connection is
// down (the broker could not be reached in time), other when the caller
// cancelled it.
func ctxKind(ctx context.Context, nc *nats.Conn) herald.Kind {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || !nc.IsConnected() {
		return herald.KindUnreachable
	}
	return herald.KindOther
}
