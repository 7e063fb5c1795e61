package herald

import (
	"context"
	"log/slog"
)

// DefaultLogger returns the logger Herald uses when none is configured:
// it writes records at warn level and above to slog.Default() (looked up
// at each record, so a later slog.SetDefault takes effect). Failures a
// service must act on (panics, lost subscriptions, drain timeouts,
// permanent errors with nowhere to go) are logged at warn or error, so
// they are visible with no configuration. To silence Herald, pass
// slog.New(slog.DiscardHandler) to WithLogger.
func DefaultLogger() *slog.Logger { return defaultLogger }

var defaultLogger = slog.New(warnDefault{})

// warnDefault forwards records at warn and above to slog.Default(),
// replaying the WithAttrs/WithGroup calls made on it.
type warnDefault struct {
	ops []func(slog.Handler) slog.Handler
}

func (h warnDefault) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && slog.Default().Handler().Enabled(ctx, l)
}

func (h warnDefault) Handle(ctx context.Context, r slog.Record) error {
	next := slog.Default().Handler()
	for _, op := range h.ops {
		next = op(next)
	}
	return next.Handle(ctx, r)
}

func (h warnDefault) WithAttrs(attrs []slog.Attr) slog.Handler {
	return h.with(func(n slog.Handler) slog.Handler { return n.WithAttrs(attrs) })
}

func (h warnDefault) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return h.with(func(n slog.Handler) slog.Handler { return n.WithGroup(name) })
}

func (h warnDefault) with(op func(slog.Handler) slog.Handler) warnDefault {
	return warnDefault{ops: append(append([]func(slog.Handler) slog.Handler(nil), h.ops...), op)}
}
