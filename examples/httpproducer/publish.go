package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/publisher"
)

// retryPolicy says how often and how fast a publish is tried again after a
// transient failure.
type retryPolicy struct {
	Attempts       int           // tries in all, at least 1
	AttemptTimeout time.Duration // bound on one try: waiting longer for an unreachable broker is the next try's job
	Backoff        time.Duration // wait before the 2nd try; doubles each time
	MaxBackoff     time.Duration
}

// transient reports whether trying err's publish again may succeed: the
// broker was unreachable, or did not answer within the attempt's timeout.
func transient(err error) bool {
	return errors.Is(err, herald.ErrUnreachable) || errors.Is(err, context.DeadlineExceeded)
}

// errGaveUp wraps the last error of a publish that failed transiently on
// every attempt; the HTTP answer is then 503 with Retry-After.
var errGaveUp = errors.New("broker unavailable")

// publishBatch publishes msgs to topic (one message: one Publish; several:
// one batched Publish, Herald's pipelined path) and tries the messages that
// failed transiently again, with backoff, on the same message (same ID, so
// a consumer can drop the duplicate that a timed-out try may have left).
// It returns one error per message: nil when the broker acknowledged it,
// an error wrapping errGaveUp when every try failed transiently, the
// broker's error otherwise. onAttempt observes each try's outcome per
// message.
func publishBatch(ctx context.Context, pub *publisher.Publisher, topic string, msgs []*herald.Message,
	rp retryPolicy, onAttempt func(d time.Duration, err error)) []error {
	errs := make([]error, len(msgs))
	pending := make([]int, len(msgs)) // indexes still to publish
	for i := range msgs {
		pending[i] = i
	}
	backoff := rp.Backoff
	for attempt := 1; ; attempt++ {
		batch := make([]*herald.Message, len(pending))
		for j, i := range pending {
			batch[j] = msgs[i]
		}
		actx, cancel := context.WithTimeout(ctx, rp.AttemptTimeout)
		start := time.Now()
		err := pub.Publish(actx, topic, batch...)
		cancel()
		took := time.Since(start)
		var retry []int
		for j, i := range pending {
			errs[i] = messageError(err, j, len(batch))
			onAttempt(took, errs[i])
			if errs[i] != nil && transient(errs[i]) && ctx.Err() == nil {
				retry = append(retry, i)
			}
		}
		if len(retry) == 0 {
			return errs
		}
		if attempt >= rp.Attempts {
			for _, i := range retry {
				errs[i] = fmt.Errorf("%w after %d attempts: %w", errGaveUp, attempt, errs[i])
			}
			return errs
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			for _, i := range retry {
				errs[i] = fmt.Errorf("%w: request ended while retrying: %w", errGaveUp, errs[i])
			}
			return errs
		}
		backoff = min(2*backoff, rp.MaxBackoff)
		pending = retry
	}
}

// messageError is the error of message j of a Publish of n messages that
// returned err.
func messageError(err error, j, n int) error {
	if err == nil {
		return nil
	}
	var be *herald.BatchError
	if n > 1 && errors.As(err, &be) && len(be.Errs) == n {
		return be.Errs[j]
	}
	return err
}
