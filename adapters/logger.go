package adapters

import (
	"context"
	"log/slog"

	"github.com/heraldkit/herald"
)

type loggerKey struct{}

// ContextWithLogger returns a context carrying l for the adapter that is
// opened with it. The publisher and subscriber packages pass their logger
// (herald.DefaultLogger() unless WithLogger sets one) this way.
func ContextWithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// Logger returns the logger an adapter should use for what it reports on
// its own (reconnects, re-created consumers): the one carried by ctx, else
// herald.DefaultLogger() (slog.Default() at warn level).
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok && l != nil {
		return l
	}
	return herald.DefaultLogger()
}
