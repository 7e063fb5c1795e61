package middleware

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/heraldkit/herald"
)

// Retry defaults. A zero or negative option value has the meaning given on
// the option, never "use the default".
const (
	DefaultMaxAttempts      = 5
	DefaultInitialDelay     = 100 * time.Millisecond
	DefaultMultiplier       = 2.0
	DefaultMaxDelay         = 10 * time.Second
	DefaultMaxElapsed       = time.Minute
	DefaultJitter           = 0.5
	DefaultRedeliveryMemory = 10_000
	DefaultRedeliveryTTL    = time.Hour
)

// ErrRetriesExhausted is matched (errors.Is) by the error Retry returns
// when it gives up; see ExhaustedError.
var ErrRetriesExhausted = errors.New("herald: retries exhausted")

// ExhaustedError is returned by Retry when it gives up on a message: the
// last attempt failed, or waiting for the next one would pass MaxElapsed or
// ctx's deadline. DeadLetter dead-letters it; without DeadLetter the
// message is nacked like for any error.
type ExhaustedError struct {
	Attempts int   // attempts made
	Err      error // the last attempt's error
}

// Error reports the attempts and the last error.
func (e *ExhaustedError) Error() string {
	return fmt.Sprintf("herald: gave up after %d attempts: %v", e.Attempts, e.Err)
}

// Unwrap returns the last attempt's error.
func (e *ExhaustedError) Unwrap() error { return e.Err }

// Is reports ErrRetriesExhausted.
func (e *ExhaustedError) Is(target error) bool { return target == ErrRetriesExhausted }

// RetryOption configures Retry.
type RetryOption func(*retryConfig)

type retryConfig struct {
	maxAttempts int
	initial     time.Duration
	multiplier  float64
	maxDelay    time.Duration
	maxElapsed  time.Duration
	jitter      float64
	redelivery  bool
	memory      int
	memoryTTL   time.Duration
	onRetry     []func(ctx context.Context, e Event)
	rand        func() float64 // in [0,1)
}

// MaxAttempts sets how many times a message is tried in all (default
// DefaultMaxAttempts); n <= 0 means no limit on the count (MaxElapsed
// still applies).
func MaxAttempts(n int) RetryOption {
	return func(c *retryConfig) { c.maxAttempts = max(n, 0) }
}

// InitialDelay sets the delay before the second attempt (default
// DefaultInitialDelay); d <= 0 retries at once.
func InitialDelay(d time.Duration) RetryOption {
	return func(c *retryConfig) { c.initial = max(d, 0) }
}

// Multiplier sets the factor by which the delay grows after each attempt
// (default DefaultMultiplier); values below 1 mean 1 (a constant delay).
func Multiplier(f float64) RetryOption {
	return func(c *retryConfig) {
		if math.IsNaN(f) || f < 1 {
			f = 1
		}
		c.multiplier = f
	}
}

// MaxDelay caps each delay, jitter included (default DefaultMaxDelay);
// d <= 0 means no cap.
func MaxDelay(d time.Duration) RetryOption {
	return func(c *retryConfig) { c.maxDelay = max(d, 0) }
}

// MaxElapsed bounds the time from the first attempt (in Redelivery mode:
// the first failure) to the start of the last one (default
// DefaultMaxElapsed): Retry gives up rather than wait past it. d <= 0
// means no limit.
func MaxElapsed(d time.Duration) RetryOption {
	return func(c *retryConfig) { c.maxElapsed = max(d, 0) }
}

// Jitter sets the randomization factor j (default DefaultJitter): each
// delay is drawn uniformly from [d*(1-j), d*(1+j)]. j is clamped to [0, 1];
// 0 disables jitter.
func Jitter(j float64) RetryOption {
	return func(c *retryConfig) {
		if math.IsNaN(j) {
			j = 0
		}
		c.jitter = min(max(j, 0), 1)
	}
}

// Redelivery switches Retry to redelivery mode: instead of sleeping in the
// handler, a failed attempt returns herald.RetryAfter(err, delay), so the
// subscriber nacks the message and the backend redelivers it after the
// delay where it can (see the package documentation for each backend),
// and the handler goroutine is free for other messages meanwhile. Attempts
// are herald.Delivery.Attempt, the subscriber's one count (the broker's
// where it keeps one: right across processes and restarts); the time of
// the first failure, for MaxElapsed, is kept per message ID in bounded
// memory (see RedeliveryMemory).
func Redelivery() RetryOption {
	return func(c *retryConfig) { c.redelivery = true }
}

// RedeliveryMemory bounds the per-message attempt counts kept in
// Redelivery mode: at most n message IDs (default DefaultRedeliveryMemory;
// least recently used are forgotten first), each forgotten ttl after its
// last failure (default DefaultRedeliveryTTL). A forgotten message starts
// counting again from 1. n <= 0 and ttl <= 0 keep the defaults.
func RedeliveryMemory(n int, ttl time.Duration) RetryOption {
	return func(c *retryConfig) {
		if n > 0 {
			c.memory = n
		}
		if ttl > 0 {
			c.memoryTTL = ttl
		}
	}
}

// OnRetry registers fn, called for every retry decision with an Event of
// kind EventRetry: the attempt that failed, its error and the delay
// actually slept (or, in Redelivery mode, asked of the backend). In the
// default mode fn is called after the sleep, just before the next attempt.
// It may be given more than once.
func OnRetry(fn func(ctx context.Context, e Event)) RetryOption {
	return func(c *retryConfig) {
		if fn != nil {
			c.onRetry = append(c.onRetry, fn)
		}
	}
}

// Retry returns middleware that retries a failing handler with exponential
// backoff and jitter: attempt n+1 starts about InitialDelay *
// Multiplier^(n-1) after attempt n failed, capped by MaxDelay. It stops when
// the handler succeeds, returns a herald.Permanent error (returned as is),
// ctx is done (the last error is returned and the message is nacked), or
// MaxAttempts / MaxElapsed are reached (an *ExhaustedError is returned).
// A handler error carrying herald.RetryAfter asks for at least that delay.
//
// Place DeadLetter outside (before) Retry and Recover inside (after) it;
// see the package documentation.
func Retry(opts ...RetryOption) herald.Middleware {
	c := retryConfig{
		maxAttempts: DefaultMaxAttempts,
		initial:     DefaultInitialDelay,
		multiplier:  DefaultMultiplier,
		maxDelay:    DefaultMaxDelay,
		maxElapsed:  DefaultMaxElapsed,
		jitter:      DefaultJitter,
		memory:      DefaultRedeliveryMemory,
		memoryTTL:   DefaultRedeliveryTTL,
		rand:        rand.Float64,
	}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return func(next herald.Handler) herald.Handler {
		if c.redelivery {
			r := &redeliverer{cfg: &c, next: next, seen: newLRU[attempts](c.memory, c.memoryTTL, nil)}
			return herald.Handler(r.handle)
		}
		return herald.Handler(func(ctx context.Context, msg *herald.Message) error {
			return c.inProcess(ctx, next, msg)
		})
	}
}

// backoff returns the delay after failed attempt n (1-based), jittered and
// capped, raised to what err asked for with herald.RetryAfter.
func (c *retryConfig) backoff(n int, err error) time.Duration {
	d := float64(c.initial) * math.Pow(c.multiplier, float64(n-1))
	if c.maxDelay > 0 {
		d = math.Min(d, float64(c.maxDelay))
	}
	if c.jitter > 0 {
		d *= 1 + c.jitter*(2*c.rand()-1)
	}
	if c.maxDelay > 0 {
		d = math.Min(d, float64(c.maxDelay))
	}
	delay := time.Duration(max(d, 0))
	if d >= math.MaxInt64 {
		delay = math.MaxInt64
	}
	if want, ok := herald.RetryDelay(err); ok && want > delay {
		delay = want
	}
	return delay
}

// exhausted reports whether attempt n was the last: by count, or because
// waiting delay would pass MaxElapsed (measured from since) or ctx's
// deadline.
func (c *retryConfig) exhausted(ctx context.Context, n int, since time.Time, delay time.Duration) bool {
	if c.maxAttempts > 0 && n >= c.maxAttempts {
		return true
	}
	next := time.Now().Add(delay)
	if c.maxElapsed > 0 && next.Sub(since) > c.maxElapsed {
		return true
	}
	if dl, ok := ctx.Deadline(); ok && next.After(dl) {
		return true
	}
	return false
}

func (c *retryConfig) emit(ctx context.Context, st *state, e Event) {
	for _, fn := range c.onRetry {
		fn(ctx, e)
	}
	st.emit(ctx, e)
}

// inProcess runs the attempts in the handler, sleeping between them.
func (c *retryConfig) inProcess(ctx context.Context, next herald.Handler, msg *herald.Message) error {
	ctx, st := withState(ctx)
	start := time.Now()
	for n := 1; ; n++ {
		st.setAttempt(n, time.Time{})
		err := next.Handle(ctx, msg)
		if err == nil {
			return nil
		}
		st.failed(time.Now())
		if herald.IsPermanent(err) || ctx.Err() != nil {
			return err
		}
		delay := c.backoff(n, err)
		if c.exhausted(ctx, n, start, delay) {
			return &ExhaustedError{Attempts: n, Err: err}
		}
		slept, ok := sleep(ctx, delay)
		if !ok {
			return err
		}
		c.emit(ctx, st, Event{Kind: EventRetry, Topic: topicOf(ctx), MessageID: msg.UUID, Attempt: n, Err: err, Delay: slept})
	}
}

// sleep waits d or until ctx is done; it returns the time actually slept
// and whether the full delay passed.
func sleep(ctx context.Context, d time.Duration) (time.Duration, bool) {
	start := time.Now()
	if d <= 0 {
		return 0, ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return time.Since(start), true
	case <-ctx.Done():
		return time.Since(start), false
	}
}

// attempts is what Redelivery mode remembers about a failing message.
type attempts struct {
	n     int
	first time.Time
}

type redeliverer struct {
	cfg  *retryConfig
	next herald.Handler
	seen *lru[attempts]
}

// handle makes one attempt per delivery and asks for a delayed redelivery
// on failure.
func (r *redeliverer) handle(ctx context.Context, msg *herald.Message) error {
	c := r.cfg
	ctx, st := withState(ctx)
	prev, _ := r.seen.get(msg.UUID)
	n := prev.n + 1
	if d, ok := herald.DeliveryFromContext(ctx); ok && d.Attempt > 0 {
		n = d.Attempt // the subscriber's one count (the broker's where it keeps one)
	}
	st.setAttempt(n, prev.first)
	firstFailure := func() time.Time {
		if prev.first.IsZero() {
			return time.Now()
		}
		return prev.first
	}
	// A panic passing through (no Recover inside) is a failed attempt too:
	// the redelivery must count it.
	defer onPanic(func(error) { r.seen.put(msg.UUID, attempts{n: n, first: firstFailure()}) })
	err := r.next.Handle(ctx, msg)
	if err == nil {
		r.seen.remove(msg.UUID)
		return nil
	}
	first := firstFailure()
	st.setAttempt(n, first)
	if herald.IsPermanent(err) {
		r.seen.remove(msg.UUID)
		return err
	}
	r.seen.put(msg.UUID, attempts{n: n, first: first})
	if ctx.Err() != nil {
		return err
	}
	delay := c.backoff(n, err)
	if c.exhausted(ctx, n, first, delay) {
		// Without DeadLetter the message keeps coming back; slowly.
		return herald.RetryAfter(&ExhaustedError{Attempts: n, Err: err}, c.slowest())
	}
	c.emit(ctx, st, Event{Kind: EventRetry, Topic: topicOf(ctx), MessageID: msg.UUID, Attempt: n, Err: err, Delay: delay, Redelivery: true})
	return herald.RetryAfter(err, delay)
}

// slowest is the delay asked for an exhausted message that is not
// dead-lettered.
func (c *retryConfig) slowest() time.Duration {
	if c.maxDelay > 0 {
		return c.maxDelay
	}
	return DefaultMaxDelay
}
