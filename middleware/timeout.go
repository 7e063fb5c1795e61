package middleware

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/heraldkit/herald"
)

// Timeout returns middleware that gives each call of the handler chain
// inside it a deadline d from its start, through ctx. Handlers must honour
// ctx: Timeout does not abandon a handler that ignores it (that would
// leave it running while the message is redelivered). When the handler
// fails after the deadline passed, the error says so and wraps
// context.DeadlineExceeded. Placed inside Retry, the deadline applies to
// each attempt. d <= 0 disables it.
func Timeout(d time.Duration) herald.Middleware {
	return func(next herald.Handler) herald.Handler {
		if d <= 0 {
			return next
		}
		return herald.Handler(func(ctx context.Context, msg *herald.Message) error {
			tctx, cancel := context.WithTimeoutCause(ctx, d, errTimeout{d})
			defer cancel()
			err := next.Handle(tctx, msg)
			if err != nil && ctx.Err() == nil && errors.Is(tctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%w: %w", errTimeout{d}, err)
			}
			return err
		})
	}
}

// errTimeout is the cause of a Timeout deadline.
type errTimeout struct{ d time.Duration }

func (e errTimeout) Error() string {
	return fmt.Sprintf("herald: handler timed out after %v", e.d)
}

// Is reports context.DeadlineExceeded.
func (e errTimeout) Is(target error) bool { return target == context.DeadlineExceeded }
