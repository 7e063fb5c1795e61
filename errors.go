package herald

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors. Test for them with errors.Is; the errors Herald returns
// wrap them with context and, where there is one, the broker's own error.
var (
	// ErrClosed is returned by operations on a closed publisher or subscriber.
	ErrClosed = errors.New("herald: closed")
	// ErrUnknownScheme is returned when no adapter is registered for a
	// target's scheme.
	ErrUnknownScheme = errors.New("herald: unknown scheme")
	// ErrInvalidConfig is returned for a malformed target, an unknown key or
	// a bad value. The concrete error is a *ConfigError.
	ErrInvalidConfig = errors.New("herald: invalid configuration")
	// ErrPermanent marks errors that retrying cannot fix; see Permanent.
	ErrPermanent = errors.New("herald: permanent error")
	// ErrUnreachable is wrapped by a Publish or Subscribe that gave up
	// because the broker could not be reached (connection refused or lost,
	// no answer) before its context or publish timeout ended.
	ErrUnreachable = errors.New("herald: broker unreachable")
	// ErrSubscriptionLost is wrapped by the error a subscription reports
	// when it stopped receiving (lost connection, deleted queue or
	// consumer, revoked permission), and by the error Subscribe returns
	// when it did not recover within the recovery timeout.
	ErrSubscriptionLost = errors.New("herald: subscription lost")
	// ErrDrainTimeout is wrapped by the error reported when stopping gave
	// up waiting for in-flight handlers; their messages stay unacked and
	// are redelivered.
	ErrDrainTimeout = errors.New("herald: drain timeout expired")
)

// ConfigError describes one configuration mistake: which key, what is wrong
// with its value and what is allowed. It never holds a secret value.
type ConfigError struct {
	Key     string // the setting, e.g. "partitions" or "scheme"
	Value   string // the offending value, "" when missing or secret
	Problem string // what is wrong, e.g. "must be an integer"
	Allowed string // what is allowed, e.g. "1..10000"
	Err     error  // an underlying error, if any
}

// Error formats as: herald: invalid configuration: key "k": value "v": problem (allowed: ...).
func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(ErrInvalidConfig.Error())
	if e.Key != "" {
		fmt.Fprintf(&b, ": key %q", e.Key)
	}
	if e.Value != "" {
		fmt.Fprintf(&b, ": value %q", e.Value)
	}
	if e.Problem != "" {
		b.WriteString(": ")
		b.WriteString(e.Problem)
	}
	if e.Allowed != "" {
		fmt.Fprintf(&b, " (allowed: %s)", e.Allowed)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// Is reports ErrInvalidConfig.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

// Unwrap returns the underlying error.
func (e *ConfigError) Unwrap() error { return e.Err }

type permanentError struct{ err error }

func (e *permanentError) Error() string        { return e.err.Error() }
func (e *permanentError) Unwrap() error        { return e.err }
func (e *permanentError) Is(target error) bool { return target == ErrPermanent }

// Permanent marks err as permanent: retrying will not fix it (a payload that
// does not decode, a validation failure). Retry middleware stops at once and
// dead-letter middleware parks the message. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil || IsPermanent(err) {
		return err
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or an error it wraps, was marked with
// Permanent.
func IsPermanent(err error) bool {
	return errors.Is(err, ErrPermanent)
}

// PanicError is the error a recovered handler panic becomes. It is
// retryable like any other error.
type PanicError struct {
	Value any    // the value passed to panic
	Stack []byte // the goroutine's stack at the panic
}

// Error reports the panic value; the stack is in the Stack field.
func (e *PanicError) Error() string { return fmt.Sprintf("herald: handler panicked: %v", e.Value) }

type retryAfterError struct {
	err   error
	delay time.Duration
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// RetryAfter returns err annotated with a redelivery delay: when a handler
// returns it, the subscriber nacks the message asking the backend to
// redeliver it after d, where the backend supports delayed redelivery
// (see docs/guarantees.md); elsewhere it is redelivered as for any error.
// RetryAfter(nil, d) is nil.
func RetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &retryAfterError{err: err, delay: d}
}

// RetryDelay returns the delay set by RetryAfter on err or an error it
// wraps.
func RetryDelay(err error) (time.Duration, bool) {
	var r *retryAfterError
	if errors.As(err, &r) {
		return r.delay, true
	}
	return 0, false
}

// BatchError is the error of a Publish of several messages of which some
// were not published: Errs[i] is the error of the i-th message, nil when
// the broker acknowledged it. errors.Is and errors.As look into every
// message's error.
type BatchError struct {
	Errs []error
}

// Error says how many failed and why the first did.
func (e *BatchError) Error() string {
	failed := e.Failed()
	if len(failed) == 0 {
		return "herald: batch: no message failed"
	}
	return fmt.Sprintf("%d of %d messages not published; message %d: %v", len(failed), len(e.Errs), failed[0], e.Errs[failed[0]])
}

// Failed returns the indexes of the messages that were not published.
func (e *BatchError) Failed() []int {
	var idx []int
	for i, err := range e.Errs {
		if err != nil {
			idx = append(idx, i)
		}
	}
	return idx
}

// Unwrap returns the messages' errors.
func (e *BatchError) Unwrap() []error {
	var errs []error
	for _, err := range e.Errs {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}
