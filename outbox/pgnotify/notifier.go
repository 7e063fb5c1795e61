package pgnotify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/outbox"
)

// Defaults of a Notifier.
const (
	// DefaultMinBackoff is the wait before the second attempt to connect
	// after the connection was lost (the first is at once); it doubles at
	// every failure up to DefaultMaxBackoff.
	DefaultMinBackoff = 100 * time.Millisecond
	// DefaultMaxBackoff bounds the wait between attempts to connect.
	DefaultMaxBackoff = 5 * time.Second
	// DefaultPingInterval is how long a quiet connection waits before it
	// is pinged, so that a connection lost without a word (a host gone,
	// a dropped network) is noticed and opened again.
	DefaultPingInterval = 30 * time.Second
	// connectTimeout bounds one attempt to connect when the connection
	// string sets no connect_timeout.
	connectTimeout = 10 * time.Second
)

// ErrClosed is returned by Wait once Close was called.
var ErrClosed = errors.New("pgnotify: notifier closed")

// Notifier LISTENs on one channel and wakes a waiting relay on each
// notification (see the package doc). It is safe for concurrent use;
// concurrent Waits take turns on the one connection.
type Notifier struct {
	cfg        *pgx.ConnConfig
	channel    string
	onError    func(error)
	logger     *slog.Logger
	minBackoff time.Duration
	maxBackoff time.Duration
	ping       time.Duration

	closed context.Context // done once Close was called
	close  context.CancelFunc

	mu       sync.Mutex // held by Wait and Close
	conn     *pgx.Conn
	delay    time.Duration // before the next attempt to connect; 0: at once
	failing  bool          // a failure was logged at warn, no connection since
	failures int           // failures since, logged at debug
}

var _ outbox.Notifier = (*Notifier)(nil)

// Option configures a Notifier.
type Option func(*Notifier) error

// WithOnError sets a function called with every failure to connect or to
// listen, from the goroutine calling Wait; it must not block.
func WithOnError(fn func(error)) Option {
	return func(n *Notifier) error { n.onError = fn; return nil }
}

// WithLogger sets the logger (default herald.DefaultLogger()): the first
// failure of an outage at warn, the rest at debug, the recovery at info.
func WithLogger(l *slog.Logger) Option {
	return func(n *Notifier) error {
		if l != nil {
			n.logger = l
		}
		return nil
	}
}

// WithBackoff sets the wait between attempts to connect: min after the
// first failure, doubled at each one up to max, each wait drawn at random
// between half and all of it (defaults DefaultMinBackoff and
// DefaultMaxBackoff).
func WithBackoff(min, max time.Duration) Option {
	return func(n *Notifier) error {
		if min <= 0 || max < min {
			return &herald.ConfigError{Key: "pgnotify.WithBackoff", Value: fmt.Sprintf("%v, %v", min, max),
				Problem: "out of range", Allowed: "0 < min <= max"}
		}
		n.minBackoff, n.maxBackoff = min, max
		return nil
	}
}

// WithPingInterval sets how long a quiet connection waits before it is
// pinged (default DefaultPingInterval); the ping must be answered within
// the same time. 0 turns pings off (a silently lost connection is then
// noticed only by TCP keepalive).
func WithPingInterval(d time.Duration) Option {
	return func(n *Notifier) error {
		if d < 0 {
			return &herald.ConfigError{Key: "pgnotify.WithPingInterval", Value: d.String(), Problem: "must not be negative"}
		}
		n.ping = d
		return nil
	}
}

// New returns a Notifier listening on channel (an outbox table's name:
// Store.Table()) of the database at connString (a pgx connection string:
// URL or key=value). It parses connString but does not connect: the first
// Wait does.
func New(connString, channel string, opts ...Option) (*Notifier, error) {
	if channel == "" {
		return nil, &herald.ConfigError{Key: "pgnotify.New", Problem: "channel is empty", Allowed: "the outbox table's name (Store.Table())"}
	}
	cfg, err := pgx.ParseConfig(connString)
	if err != nil {
		return nil, &herald.ConfigError{Key: "pgnotify.New", Problem: "bad connection string: " + err.Error()}
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = connectTimeout
	}
	n := &Notifier{
		cfg: cfg, channel: channel, logger: herald.DefaultLogger(),
		minBackoff: DefaultMinBackoff, maxBackoff: DefaultMaxBackoff, ping: DefaultPingInterval,
	}
	n.closed, n.close = context.WithCancel(context.Background())
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(n); err != nil {
			return nil, err
		}
	}
	n.logger = n.logger.With("channel", channel)
	return n, nil
}

// Wait blocks until a notification arrives on the channel, or the
// connection was (re)opened (notifications sent before are lost: the
// caller should look for rows), or ctx is done (it returns ctx's error),
// or Close was called (ErrClosed). Failures to connect or listen do not
// end it: they are reported (WithOnError, the logger) and retried with
// backoff.
func (n *Notifier) Wait(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(n.closed, cancel)
	defer stop()
	n.mu.Lock()
	defer n.mu.Unlock()
	for {
		if err := n.done(ctx); err != nil {
			return err
		}
		if n.conn == nil {
			if n.delay > 0 && !sleep(ctx, n.delay/2+rand.N(n.delay/2+1)) {
				return n.done(ctx)
			}
			if err := n.connect(ctx); err != nil {
				if ctx.Err() != nil {
					return n.done(ctx)
				}
				n.delay = min(max(2*n.delay, n.minBackoff), n.maxBackoff)
				n.fail(fmt.Errorf("pgnotify: connect to listen on %s: %w", n.channel, err))
				continue
			}
			n.delay = 0
			n.recovered()
			return nil
		}
		err := n.waitOrPing(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			if n.conn.IsClosed() {
				n.conn = nil
			}
			return n.done(ctx)
		}
		// Lost: the first attempt to connect again is at once.
		n.conn.Close(context.Background()) //nolint:errcheck // already broken
		n.conn = nil
		n.fail(fmt.Errorf("pgnotify: listening on %s: %w", n.channel, err))
	}
}

// waitOrPing waits for a notification; when none came within the ping
// interval it pings the connection and waits again. It returns nil on a
// notification and the error that broke the connection otherwise.
func (n *Notifier) waitOrPing(ctx context.Context) error {
	for {
		wctx, cancel := ctx, context.CancelFunc(func() {})
		if n.ping > 0 {
			wctx, cancel = context.WithTimeout(ctx, n.ping)
		}
		_, err := n.conn.WaitForNotification(wctx)
		cancel()
		if err == nil || ctx.Err() != nil || n.conn.IsClosed() || wctx.Err() == nil {
			return err
		}
		// Quiet for a whole ping interval: is anybody there?
		pctx, cancel := context.WithTimeout(ctx, n.ping)
		err = n.conn.Ping(pctx)
		cancel()
		if err != nil {
			return fmt.Errorf("ping: %w", err)
		}
	}
}

// connect opens the connection and LISTENs on the channel.
func (n *Notifier) connect(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, n.cfg)
	if err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{n.channel}.Sanitize()); err != nil {
		conn.Close(context.Background()) //nolint:errcheck // the LISTEN's error matters
		return err
	}
	n.conn = conn
	return nil
}

// done returns ErrClosed once closed, else ctx's error.
func (n *Notifier) done(ctx context.Context) error {
	if n.closed.Err() != nil {
		return ErrClosed
	}
	return ctx.Err()
}

// Close ends every Wait (they return ErrClosed) and closes the
// connection. Wait returns ErrClosed after it.
func (n *Notifier) Close() error {
	n.close()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conn == nil {
		return nil
	}
	err := n.conn.Close(context.Background())
	n.conn = nil
	return err
}

// fail reports err: OnError, and the log at warn for the first failure of
// an outage, at debug for the rest.
func (n *Notifier) fail(err error) {
	if n.onError != nil {
		n.onError(err)
	}
	if !n.failing {
		n.failing = true
		n.logger.Warn("pgnotify: not listening; retrying with backoff, the relay polls meanwhile (further failures at debug)", "error", err)
		return
	}
	n.failures++
	n.logger.Debug("pgnotify: not listening", "error", err)
}

// recovered ends an outage.
func (n *Notifier) recovered() {
	if n.failing {
		n.logger.Info("pgnotify: listening again", "failures_not_logged", n.failures)
	}
	n.failing, n.failures = false, 0
}

// sleep waits d or until ctx is done; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
