package middleware

import (
	"context"
	"runtime/debug"

	"github.com/heraldkit/herald"
)

// Recover returns middleware that turns a panic in the handler chain inside
// it into a *herald.PanicError carrying the panic value and the stack. The
// subscriber recovers panics too, but only at the outermost level: with
// Recover inside Retry, a panic is retried and dead-lettered like any
// other error. A panic is retryable unless the panic value is an error
// marked herald.Permanent.
func Recover() herald.Middleware {
	return func(next herald.Handler) herald.Handler {
		return herald.Handler(func(ctx context.Context, msg *herald.Message) (err error) {
			defer func() {
				if p := recover(); p != nil {
					pe := &herald.PanicError{Value: p, Stack: debug.Stack()}
					err = pe
					if e, ok := p.(error); ok && herald.IsPermanent(e) {
						err = herald.Permanent(pe)
					}
				}
			}()
			return next.Handle(ctx, msg)
		})
	}
}
