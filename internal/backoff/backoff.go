// Package backoff is Herald's one exponential backoff: the subscriber's
// redelivery delays and stream reopening, and the drivers' reconnect
// loops use it.
package backoff

import "time"

// Exp is base·2^(n-1) for the n-th attempt (n >= 1), at most limit.
func Exp(n int, base, limit time.Duration) time.Duration {
	d := base
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// Policy is a backoff with its bounds, for loops that retry until they
// succeed.
type Policy struct {
	Base, Limit time.Duration
}

// Delay is the wait before attempt n+1, after n failures.
func (p Policy) Delay(n int) time.Duration { return Exp(n, p.Base, p.Limit) }
