// Package backoff is Herald's one exponential backoff: the subscriber's
// redelivery delays and stream reopening, and every reconnect, resend and
// retry loop of the drivers use it. No loop built on it can spin: every
// delay is at least MinDelay.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// MinDelay is the shortest delay Exp and Policy return, whatever their
// base: a loop that waits a Delay between attempts cannot spin.
const MinDelay = time.Millisecond

// Exp is base·2^(n-1) for the n-th attempt (n >= 1; n < 1 counts as 1),
// at most limit and at least MinDelay. A base below MinDelay is MinDelay;
// a limit below the base is the base.
func Exp(n int, base, limit time.Duration) time.Duration {
	base = max(base, MinDelay)
	limit = max(limit, base)
	d := base
	for i := 1; i < n && d < limit; i++ {
		if d > limit/2 {
			return limit // doubling would pass limit (or overflow)
		}
		d *= 2
	}
	return min(d, limit)
}

// Policy is a backoff with its bounds, for loops that retry until they
// succeed.
type Policy struct {
	// Base is the first delay, Limit the longest.
	Base, Limit time.Duration
	// Jitter spreads each delay at random over [d/2, d), so that many
	// clients retrying the same broker do not retry in lockstep.
	Jitter bool
}

// Delay is the wait before attempt n+1, after n failures.
func (p Policy) Delay(n int) time.Duration {
	d := Exp(n, p.Base, p.Limit)
	if p.Jitter && d >= 2*MinDelay {
		d = d/2 + rand.N(d/2)
	}
	return d
}

// Start returns a Retry counting the failures of one loop under p.
func (p Policy) Start() *Retry { return &Retry{p: p} }

// Retry counts the failures of one retry loop. It is not safe for
// concurrent use.
type Retry struct {
	p Policy
	n int
}

// Next counts one more failure and returns the delay to wait before the
// next attempt.
func (r *Retry) Next() time.Duration {
	if r.n < 64 {
		r.n++
	}
	return r.p.Delay(r.n)
}

// Failures is how many failures were counted since the start or the last
// Reset.
func (r *Retry) Failures() int { return r.n }

// Reset starts counting again, after a success.
func (r *Retry) Reset() { r.n = 0 }

// Wait waits d, unless ctx ends or one of stop is closed first (a nil
// channel never is). It reports whether the whole delay passed.
func Wait(ctx context.Context, d time.Duration, stop ...<-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	var s0, s1 <-chan struct{}
	switch len(stop) {
	case 0:
	case 1:
		s0 = stop[0]
	case 2:
		s0, s1 = stop[0], stop[1]
	default:
		panic("backoff.Wait: at most two stop channels")
	}
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s0:
		return false
	case <-s1:
		return false
	}
}
