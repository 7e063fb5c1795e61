package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/heraldkit/herald"
)

// opError formats an error in the adapter contract's style:
//
//	herald/kafka: publish to "orders": <cause>
//
// op is "publish to", "subscribe to" or "prepare"; err is wrapped.
func opError(op, topic string, err error) error {
	return fmt.Errorf("herald/kafka: %s %q: %w", op, topic, err)
}

// closedError is the error of a method called after Close.
func closedError(op, topic string) error { return opError(op, topic, herald.ErrClosed) }

// ctxError is the error of a wait that ctx ended. A deadline that expired
// without an answer, or after a connection failure (cause), means the
// broker did not answer in time: the error then also wraps
// herald.ErrUnreachable.
func ctxError(ctx context.Context, cause error) error {
	err := context.Cause(ctx)
	unreachable := cause != nil && transient(cause) || errors.Is(ctx.Err(), context.DeadlineExceeded)
	switch {
	case unreachable && cause != nil:
		return fmt.Errorf("%w (last error: %w): %w", herald.ErrUnreachable, cause, err)
	case unreachable:
		return fmt.Errorf("%w (no answer): %w", herald.ErrUnreachable, err)
	case cause != nil:
		return fmt.Errorf("%w (last error: %w)", err, cause)
	default:
		return err
	}
}
