package main

import (
	"context"
	"os"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/examples/orders/internal/shop"
)

// CrashEnv names the variable that makes the service exit right after
// its first payment committed, before the ack (for the demonstration and
// its test only).
const CrashEnv = "EXAMPLE_CRASH_AFTER_PAYMENT"

type ranKey struct{}

// handled tells reportSkips that the handler ran.
func handled(ctx context.Context) {
	if ran, ok := ctx.Value(ranKey{}).(*bool); ok {
		*ran = true
	}
}

// reportSkips wraps the inbox: it prints a line when the inbox acked a
// message without running the handler (handled before), and, when crash,
// exits right after the first message handled and committed.
func reportSkips(say *shop.Printer, name string, crash bool) herald.Middleware {
	return func(next herald.Handler) herald.Handler {
		return func(ctx context.Context, m *herald.Message) error {
			ran := new(bool)
			err := next(context.WithValue(ctx, ranKey{}, ran), m)
			switch {
			case err != nil:
			case !*ran:
				say.Printf("%s: message %s (%s) already handled (inbox): skipped", name, m.UUID, herald.Key(m))
			case crash:
				say.Printf("%s: %s=1: exiting after the commit, before the ack", name, CrashEnv)
				os.Exit(2)
			}
			return err
		}
	}
}
