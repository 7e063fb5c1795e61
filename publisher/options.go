package publisher

import (
	"errors"
	"log/slog"

	"github.com/heraldkit/herald"
)

// Option configures a Publisher. Options are validated by Open.
type Option func(*options) error

type options struct {
	middleware []herald.PublishMiddleware
	logger     *slog.Logger
}

func apply(opts []Option) (options, error) {
	o := options{logger: slog.New(slog.DiscardHandler)}
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

// WithLogger sets the logger; nil (the default) is silent.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l != nil {
			o.logger = l
		}
		return nil
	}
}
