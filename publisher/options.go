package publisher

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/heraldkit/herald"
)

// Option configures a Publisher. Options are validated by Open.
type Option func(*options) error

type options struct {
	middleware []herald.PublishMiddleware
	logger     *slog.Logger
	timeout    time.Duration
	window     int
}

// DefaultPublishTimeout bounds a Publish whose context has no deadline:
// while the broker is unreachable, Publish waits for it at most this long,
// then returns an error wrapping herald.ErrUnreachable.
const DefaultPublishTimeout = 30 * time.Second

func apply(opts []Option) (options, error) {
	o := options{logger: herald.DefaultLogger(), timeout: DefaultPublishTimeout, window: DefaultAsyncWindow}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&o); err != nil {
			return o, err
		}
	}
	return o, nil
}

// WithMiddleware adds publish middleware; the first listed is the
// outermost. It may be given more than once.
func WithMiddleware(mws ...herald.PublishMiddleware) Option {
	return func(o *options) error {
		for _, m := range mws {
			if m == nil {
				return errors.New("herald: publisher.WithMiddleware: middleware is nil")
			}
		}
		o.middleware = append(o.middleware, mws...)
		return nil
	}
}

// WithLogger sets the logger, also handed to the backend. The default (and
// nil) is herald.DefaultLogger(): slog.Default() at warn level. Pass
// slog.New(slog.DiscardHandler) to silence it.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l != nil {
			o.logger = l
		}
		return nil
	}
}

// WithPublishTimeout bounds each Publish whose context has no earlier
// deadline (default DefaultPublishTimeout). While the broker is
// unreachable a publish waits for it until then, on every backend, and
// then returns an error wrapping herald.ErrUnreachable.
func WithPublishTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return &herald.ConfigError{Key: "publish timeout", Value: d.String(), Problem: "must be positive", Allowed: "a duration > 0, e.g. 30s"}
		}
		o.timeout = d
		return nil
	}
}

// MaxAsyncWindow is the largest value WithAsyncWindow accepts.
const MaxAsyncWindow = 1 << 20

// WithAsyncWindow bounds how many messages given to PublishAsync may wait
// for the broker's answer at once (default DefaultAsyncWindow); when the
// window is full, PublishAsync waits (back-pressure).
func WithAsyncWindow(n int) Option {
	return func(o *options) error {
		if n < 1 || n > MaxAsyncWindow {
			return &herald.ConfigError{Key: "async window", Value: fmt.Sprint(n), Problem: "is out of range", Allowed: fmt.Sprintf("1 to %d", MaxAsyncWindow)}
		}
		o.window = n
		return nil
	}
}
