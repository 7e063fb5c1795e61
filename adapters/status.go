package adapters

import "context"

type statusKey struct{}

// StatusFunc receives a subscription's health from its adapter: a non-nil
// error when it stopped receiving (the connection is lost, the queue or
// consumer was deleted, a permission was revoked), nil when it receives
// again.
type StatusFunc func(err error)

// ContextWithStatus returns a context carrying fn for the Subscribe call
// made with it. The subscriber package passes one per subscription and
// turns the reports into logs, its error hook, Health and, after the
// recovery timeout, an error from Subscribe.
func ContextWithStatus(ctx context.Context, fn StatusFunc) context.Context {
	return context.WithValue(ctx, statusKey{}, fn)
}

// ReportStatus tells the subscription started with ctx (the context given
// to Subscribe) that it is broken (err != nil) or receiving again (nil).
// An adapter that retries on its own calls it when the subscription
// breaks and again once it recovered; it may call it repeatedly with the
// latest cause. Without a StatusFunc in ctx it does nothing.
func ReportStatus(ctx context.Context, err error) {
	if fn, ok := ctx.Value(statusKey{}).(StatusFunc); ok && fn != nil {
		fn(err)
	}
}
