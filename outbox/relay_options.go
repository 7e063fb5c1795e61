package outbox

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/heraldkit/herald"
)

// Relay defaults.
const (
	// DefaultBatch bounds the rows a relay holds leased and unanswered.
	DefaultBatch = 256
	// DefaultLease is how long a claimed row is reserved for its relay,
	// renewed every third of it while the row's publish is unanswered
	// (however long the broker or the publisher's window takes): it bounds
	// how long the rows of a relay that died wait before another relay
	// sends them.
	DefaultLease = 15 * time.Second
	// DefaultPollInterval is how long an idle relay waits before it looks
	// for rows again, when no Notifier woke it first.
	DefaultPollInterval = 100 * time.Millisecond
	// DefaultRetention is how long sent rows are kept before they are
	// deleted.
	DefaultRetention = 24 * time.Hour
	// DefaultRetryDelay is how long a row whose publish failed (or a relay
	// whose query failed) waits before it is tried again.
	DefaultRetryDelay = time.Second
)

// Notifier wakes an idle relay when rows may have been committed, before
// its poll interval ends. Wait blocks until then or until ctx is done; a
// spurious or lost wake-up only costs latency (the relay also polls). On
// PostgreSQL, every commit that wrote to the outbox table T sends a NOTIFY
// on the channel T (a statement trigger); database/sql cannot LISTEN, so
// the Notifier is implemented with the driver's own connection: the
// module github.com/heraldkit/herald/outbox/pgnotify is one on pgx.
type Notifier interface {
	Wait(ctx context.Context) error
}

// RelayOption configures a Relay.
type RelayOption func(*Relay) error

// WithBatch sets how many rows the relay keeps claimed and unanswered
// (default DefaultBatch, 1..100000): its in-flight window. The
// publisher's own async window (publisher.WithAsyncWindow) bounds it too.
func WithBatch(n int) RelayOption {
	return func(r *Relay) error {
		if n < 1 || n > 100000 {
			return &herald.ConfigError{Key: "outbox.WithBatch", Value: fmt.Sprint(n), Problem: "out of range", Allowed: "1..100000"}
		}
		r.batch = n
		return nil
	}
}

// WithLease sets how long a claimed row is reserved (default
// DefaultLease). The relay renews the leases of the rows it waits on
// every third of it, so the lease need not exceed the publish timeout:
// it is how long a dead relay's rows wait, and how long a relay may be
// held up (a stalled database, a paused process) before another relay
// may take its rows over and send them a second time.
func WithLease(d time.Duration) RelayOption {
	return func(r *Relay) error {
		if d < 100*time.Millisecond {
			return &herald.ConfigError{Key: "outbox.WithLease", Value: d.String(), Problem: "too short", Allowed: ">= 100ms"}
		}
		r.lease = d
		return nil
	}
}

// WithPollInterval sets how long an idle relay waits before it looks for
// rows again (default DefaultPollInterval).
func WithPollInterval(d time.Duration) RelayOption {
	return func(r *Relay) error {
		if d <= 0 {
			return &herald.ConfigError{Key: "outbox.WithPollInterval", Value: d.String(), Problem: "must be positive"}
		}
		r.poll = d
		return nil
	}
}

// WithRetention sets how long sent rows are kept (default
// DefaultRetention); 0 deletes a row as soon as its publish was
// acknowledged instead of marking it sent.
func WithRetention(d time.Duration) RelayOption {
	return func(r *Relay) error {
		if d < 0 {
			return &herald.ConfigError{Key: "outbox.WithRetention", Value: d.String(), Problem: "must not be negative", Allowed: "0 (delete when sent) or a duration"}
		}
		r.retention = d
		return nil
	}
}

// WithRetryDelay sets how long a row whose publish failed waits before it
// is tried again, and a relay whose query failed before it queries again
// (default DefaultRetryDelay).
func WithRetryDelay(d time.Duration) RelayOption {
	return func(r *Relay) error {
		if d <= 0 {
			return &herald.ConfigError{Key: "outbox.WithRetryDelay", Value: d.String(), Problem: "must be positive"}
		}
		r.retryDelay = d
		return nil
	}
}

// WithNotifier sets the Notifier that wakes the relay on commits.
func WithNotifier(n Notifier) RelayOption {
	return func(r *Relay) error { r.notifier = n; return nil }
}

// WithOnError sets a function called with every failure of the relay (a
// query, a publish, a mark, a lease renewal), from the relay's
// goroutines, one call at a time; it must not block. Failures are also logged (WithLogger), at warn once per outage.
func WithOnError(fn func(error)) RelayOption {
	return func(r *Relay) error { r.onError = fn; return nil }
}

// WithLogger sets the relay's logger (default herald.DefaultLogger(),
// slog.Default at warn and above).
func WithLogger(l *slog.Logger) RelayOption {
	return func(r *Relay) error {
		if l != nil {
			r.logger = l
		}
		return nil
	}
}
