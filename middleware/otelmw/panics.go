package otelmw

import (
	"runtime/debug"

	"github.com/heraldkit/herald"
)

// onPanic, deferred by middleware that keeps books on a delivery, settles
// them when the chain inside panics: it calls settle with the panic as a
// *herald.PanicError (value and stack), then panics again with the same
// value, so that a Recover or the subscriber further out sees the original
// panic (its stack still holds the panicking frames). It must be deferred
// directly: defer onPanic(func(err error) { ... }).
func onPanic(settle func(err error)) {
	p := recover()
	if p == nil {
		return
	}
	settle(&herald.PanicError{Value: p, Stack: debug.Stack()})
	panic(p)
}
