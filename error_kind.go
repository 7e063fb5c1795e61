package herald

import (
	"errors"
	"fmt"
)

// More sentinel errors, one per Kind of *Error (ErrUnreachable and
// ErrClosed are in errors.go).
var (
	// ErrDenied is wrapped when the broker refused an operation for lack of
	// permission or bad credentials. Waiting does not fix it.
	ErrDenied = errors.New("herald: denied by the broker")
	// ErrTooLarge is wrapped when a message is over the broker's size limit.
	ErrTooLarge = errors.New("herald: message too large")
	// ErrInvalid is wrapped when the broker or the driver refused a message
	// or a name as invalid (an empty topic, a header it cannot carry).
	ErrInvalid = errors.New("herald: invalid message or name")
	// ErrOutcomeUnknown is wrapped when a publish was written to the broker
	// but no answer came (the connection broke, the publish timeout
	// expired): the broker may have stored the message. Publishing it again
	// may duplicate it; a consumer that dedupes by message ID sees it once.
	ErrOutcomeUnknown = errors.New("herald: publish outcome unknown (the broker may have stored it)")
	// ErrNoResponder is wrapped when a request went to a topic nobody
	// subscribes to and the backend can tell (NATS core's no-responders
	// status, the memory bus).
	ErrNoResponder = errors.New("herald: no responder subscribes to the topic")
)

// Kind classifies an *Error.
type Kind uint8

// The kinds of *Error. Each matches its sentinel with errors.Is.
const (
	KindOther          Kind = iota // none of the below
	KindUnreachable                // ErrUnreachable: the broker could not be reached in time
	KindClosed                     // ErrClosed: the publisher, subscriber or stream is closed
	KindDenied                     // ErrDenied: permission or credentials refused
	KindTooLarge                   // ErrTooLarge: over the broker's size limit
	KindInvalid                    // ErrInvalid: refused as invalid
	KindOutcomeUnknown             // ErrOutcomeUnknown: written, no answer: maybe stored
	KindNoResponder                // ErrNoResponder: a request nobody subscribes to
)

var kindSentinel = [...]error{
	KindUnreachable:    ErrUnreachable,
	KindClosed:         ErrClosed,
	KindDenied:         ErrDenied,
	KindTooLarge:       ErrTooLarge,
	KindInvalid:        ErrInvalid,
	KindOutcomeUnknown: ErrOutcomeUnknown,
	KindNoResponder:    ErrNoResponder,
}

// Sentinel returns the sentinel error of k (nil for KindOther).
func (k Kind) Sentinel() error {
	if int(k) < len(kindSentinel) {
		return kindSentinel[k]
	}
	return nil
}

// String names k.
func (k Kind) String() string {
	switch k {
	case KindUnreachable:
		return "unreachable"
	case KindClosed:
		return "closed"
	case KindDenied:
		return "denied"
	case KindTooLarge:
		return "too large"
	case KindInvalid:
		return "invalid"
	case KindOutcomeUnknown:
		return "outcome unknown"
	case KindNoResponder:
		return "no responder"
	}
	return "other"
}

// Error is the one error type drivers return and the publisher and
// subscriber pass on: which backend, which operation on which topic, what
// kind of failure, and the cause (the broker's or client's own error,
// reachable with errors.As). Match the kind with errors.Is against its
// sentinel (ErrUnreachable, ErrClosed, ErrDenied, ErrTooLarge, ErrInvalid,
// ErrOutcomeUnknown), never by text.
type Error struct {
	Backend string // the scheme: kafka, amqp, nats, mem, embedded
	Op      string // e.g. "publish to", "subscribe to", "ack", "close"
	Topic   string // "" when the operation has none
	Kind    Kind
	Err     error // the cause; may be nil when Kind says it all
}

// Error formats as `herald/<backend>: <op> "<topic>": <cause>`.
func (e *Error) Error() string {
	cause := "unknown error"
	switch {
	case e.Err != nil:
		cause = e.Err.Error()
	case e.Kind.Sentinel() != nil:
		cause = e.Kind.Sentinel().Error()
	}
	if e.Topic == "" {
		return fmt.Sprintf("herald/%s: %s: %s", e.Backend, e.Op, cause)
	}
	return fmt.Sprintf("herald/%s: %s %q: %s", e.Backend, e.Op, e.Topic, cause)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is the sentinel of e's Kind.
func (e *Error) Is(target error) bool {
	s := e.Kind.Sentinel()
	return s != nil && target == s
}

// KindOf returns the Kind of the first *Error in err's chain, or the kind
// whose sentinel err wraps, or KindOther.
func KindOf(err error) Kind {
	var he *Error
	if errors.As(err, &he) && he.Kind != KindOther {
		return he.Kind
	}
	for k := KindUnreachable; int(k) < len(kindSentinel); k++ {
		if errors.Is(err, kindSentinel[k]) {
			return k
		}
	}
	return KindOther
}
