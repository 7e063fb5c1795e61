package subscriber

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/heraldkit/herald"
)

// Option configures a Subscriber. Options are validated by Open.
type Option func(*options) error

type options struct {
	group       string
	concurrency int
	middleware  []herald.Middleware
	logger      *slog.Logger
	drain       time.Duration
	recovery    time.Duration
	window      int
	ready       func(topic string)
	onError     func(error)
}

// DefaultDrainTimeout bounds how long Close and a cancelled Subscribe wait
// for in-flight handlers.
const DefaultDrainTimeout = 30 * time.Second

// DefaultRecoveryTimeout bounds how long a subscription may stay broken
// (lost connection, deleted queue, revoked permission) before Subscribe
// gives up and returns an error wrapping herald.ErrSubscriptionLost.
const DefaultRecoveryTimeout = 2 * time.Minute

// MaxConcurrency is the largest value WithConcurrency accepts.
const MaxConcurrency = 4096

func apply(opts []Option) (options, error) {
	o := options{concurrency: 1, drain: DefaultDrainTimeout, recovery: DefaultRecoveryTimeout, logger: herald.DefaultLogger()}
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

// WithGroup sets the consumer group; it overrides a group given in the
// target URL. Subscribers in one group share a topic's messages; different
// groups each get every message. Without a group, the subscriber gets every
// message published while it runs.
func WithGroup(name string) Option {
	return func(o *options) error {
		if name == "" {
			return &herald.ConfigError{Key: "group", Problem: "is empty", Allowed: "a non-empty name; omit WithGroup for a private subscriber"}
		}
		o.group = name
		return nil
	}
}

// WithConcurrency sets how many handlers run at once per Subscribe call
// (default 1, at most MaxConcurrency).
func WithConcurrency(n int) Option {
	return func(o *options) error {
		if n < 1 || n > MaxConcurrency {
			return &herald.ConfigError{Key: "concurrency", Value: fmt.Sprint(n), Problem: "is out of range", Allowed: fmt.Sprintf("1 to %d", MaxConcurrency)}
		}
		o.concurrency = n
		return nil
	}
}

// WithMiddleware adds handler middleware; the first listed is the
// outermost. It may be given more than once.
func WithMiddleware(mws ...herald.Middleware) Option {
	return func(o *options) error {
		for _, m := range mws {
			if m == nil {
				return errors.New("herald: subscriber.WithMiddleware: middleware is nil")
			}
		}
		o.middleware = append(o.middleware, mws...)
		return nil
	}
}

// WithLogger sets the logger for panics, failed handlers and subscription
// failures, also handed to the backend. The default (and nil) is
// herald.DefaultLogger(): slog.Default() at warn level. Pass
// slog.New(slog.DiscardHandler) to silence it.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l != nil {
			o.logger = l
		}
		return nil
	}
}

// WithDrainTimeout bounds how long stopping waits for in-flight handlers
// (default DefaultDrainTimeout). When it expires, handler contexts are
// cancelled and unfinished messages are left unacked for redelivery.
func WithDrainTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return &herald.ConfigError{Key: "drain timeout", Value: d.String(), Problem: "must be positive", Allowed: "a duration > 0, e.g. 30s"}
		}
		o.drain = d
		return nil
	}
}

// WithReady registers fn, called by each Subscribe once the backend
// subscription is established: messages published after fn is called are
// delivered to it. Useful in tests and to signal readiness probes.
func WithReady(fn func(topic string)) Option {
	return func(o *options) error {
		o.ready = fn
		return nil
	}
}

// WithRecoveryTimeout bounds how long a subscription may stay broken
// before Subscribe stops retrying, drains and returns an error wrapping
// herald.ErrSubscriptionLost (default DefaultRecoveryTimeout). A broker
// restart within it is survived without the caller noticing.
func WithRecoveryTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return &herald.ConfigError{Key: "recovery timeout", Value: d.String(), Problem: "must be positive", Allowed: "a duration > 0, e.g. 2m"}
		}
		o.recovery = d
		return nil
	}
}

// WithErrorHook registers fn, called for every failure the subscriber
// reports, besides logging it: a handler panic (*herald.PanicError), a
// permanent handler error with no dead-letter middleware to take the
// message (wraps herald.ErrPermanent), a broken or given-up subscription
// (wraps herald.ErrSubscriptionLost) and an expired drain (wraps
// herald.ErrDrainTimeout). fn must not block; it may be called from
// several goroutines at once.
func WithErrorHook(fn func(error)) Option {
	return func(o *options) error {
		o.onError = fn
		return nil
	}
}

// MaxWindow is the largest value WithWindow accepts.
const MaxWindow = 1 << 16

// DefaultWindow is the stream window when neither WithWindow, the URL's
// prefetch option nor the backend's declared default sets one.
const DefaultWindow = 256

// WithWindow sets how many messages a Subscribe call keeps unsettled at
// once: the prefetch (RabbitMQ), MaxAckPending and pull batch (JetStream)
// or buffered records (Kafka) that feed the handlers. The default, 0,
// takes the URL's prefetch option (?prefetch=N, the same name on every
// backend; Kafka's older "window" is its alias), else the backend's own
// default (adapters.Capabilities.DefaultWindow). Messages held for a
// redelivery delay count against the window.
func WithWindow(n int) Option {
	return func(o *options) error {
		if n < 0 || n > MaxWindow {
			return &herald.ConfigError{Key: "window", Value: fmt.Sprint(n), Problem: "is out of range", Allowed: fmt.Sprintf("0 (the default) to %d", MaxWindow)}
		}
		o.window = n
		return nil
	}
}
