package wmbridge

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/publisher"
)

// Defaults of the Watermill view of a Herald backend.
const (
	// DefaultPublishTimeout bounds one Publish when WithPublishTimeout is
	// not given: the time each message has to reach the broker and be
	// acknowledged. It is the publisher facade's default.
	DefaultPublishTimeout = publisher.DefaultPublishTimeout
	// DefaultNackDelay is how long a nacked message waits before it is
	// delivered again when WithNackDelay is not given (watermill-kafka's
	// NackResendSleep has the same default).
	DefaultNackDelay = 100 * time.Millisecond
	// DefaultCloseTimeout bounds Close: flushing acknowledgements, waiting
	// for the answers of messages being published.
	DefaultCloseTimeout = 30 * time.Second
)

// Option configures a Publisher or a Subscriber made by this package.
// Options that do not concern one side are ignored by it.
type Option func(*settings)

type settings struct {
	publishTimeout time.Duration
	nackDelay      time.Duration
	closeTimeout   time.Duration
	window         int
	logger         *slog.Logger
	err            error
}

func newSettings(opts []Option) (settings, error) {
	s := settings{
		publishTimeout: DefaultPublishTimeout,
		nackDelay:      DefaultNackDelay,
		closeTimeout:   DefaultCloseTimeout,
	}
	for _, o := range opts {
		if o != nil {
			o(&s)
		}
	}
	if s.err != nil {
		return s, s.err
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

func (s *settings) fail(format string, args ...any) {
	if s.err == nil {
		s.err = fmt.Errorf("wmbridge: "+format, args...)
	}
}

// WithPublishTimeout bounds each Publish: every message must be
// acknowledged by the broker within d, or Publish returns its error
// (herald.ErrOutcomeUnknown when the message was written but not
// answered, herald.ErrUnreachable when it was never written). d must be
// positive.
func WithPublishTimeout(d time.Duration) Option {
	return func(s *settings) {
		if d <= 0 {
			s.fail("WithPublishTimeout(%v): the timeout must be positive", d)
			return
		}
		s.publishTimeout = d
	}
}

// WithNackDelay sets how long a nacked message waits before it is
// delivered again (0: at once). Where the backend holds nacked messages
// for the subscriber (Capabilities.Redelivery is RedeliverLocal: Kafka,
// mem) the Subscriber sends the message again on the same channel after
// d, before any later message; otherwise the message goes back to the
// broker after d (or with d, where the broker delays natively), and later
// messages are delivered meanwhile.
func WithNackDelay(d time.Duration) Option {
	return func(s *settings) {
		if d < 0 {
			s.fail("WithNackDelay(%v): the delay must not be negative", d)
			return
		}
		s.nackDelay = d
	}
}

// WithWindow sets the consume window: how many deliveries the backend
// hands ahead of the ones being handled (prefetch). The default is the
// URL's ?prefetch=N, else the backend's Capabilities.DefaultWindow.
// Messages still go to the Watermill channel one at a time, each after
// the previous one was acked or nacked, as Watermill subscribers do.
func WithWindow(n int) Option {
	return func(s *settings) {
		if n < 1 || n > adapters.MaxPrefetch {
			s.fail("WithWindow(%d): the window must be from 1 to %d", n, adapters.MaxPrefetch)
			return
		}
		s.window = n
	}
}

// WithCloseTimeout bounds Close (default DefaultCloseTimeout). d must be
// positive.
func WithCloseTimeout(d time.Duration) Option {
	return func(s *settings) {
		if d <= 0 {
			s.fail("WithCloseTimeout(%v): the timeout must be positive", d)
			return
		}
		s.closeTimeout = d
	}
}

// WithLogger sets the logger given to the driver (adapters.Env.Logger)
// and used for the bridge's own reports (a stream reopened). The default
// discards.
func WithLogger(l *slog.Logger) Option {
	return func(s *settings) {
		if l == nil {
			s.fail("WithLogger(nil)")
			return
		}
		s.logger = l
	}
}
