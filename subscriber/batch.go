package subscriber

import (
	"context"
	"fmt"
	"time"

	"github.com/heraldkit/herald"
)

// BatchOption configures one SubscribeBatch call.
type BatchOption func(*batchOptions) error

type batchOptions struct {
	size       int
	wait       time.Duration
	middleware []herald.BatchMiddleware
}

// Batch limits: the defaults and the largest size BatchSize accepts.
const (
	DefaultBatchSize = 100
	DefaultBatchWait = 100 * time.Millisecond
	MaxBatchSize     = 1 << 14
)

// BatchSize sets the most messages a batch holds (default
// DefaultBatchSize, 1 to MaxBatchSize).
func BatchSize(n int) BatchOption {
	return func(o *batchOptions) error {
		if n < 1 || n > MaxBatchSize {
			return &herald.ConfigError{Key: "batch size", Value: fmt.Sprint(n), Problem: "is out of range", Allowed: fmt.Sprintf("1 to %d", MaxBatchSize)}
		}
		o.size = n
		return nil
	}
}

// BatchWait sets how long a batch waits for more messages after its first
// one arrived before it is handed to the handler with fewer than its size
// (default DefaultBatchWait). 0 hands over at once what has arrived.
func BatchWait(d time.Duration) BatchOption {
	return func(o *batchOptions) error {
		if d < 0 {
			return &herald.ConfigError{Key: "batch wait", Value: d.String(), Problem: "is negative", Allowed: "a duration >= 0, e.g. 100ms"}
		}
		o.wait = d
		return nil
	}
}

// BatchMiddleware adds batch middleware (middleware.BatchRecover,
// middleware.BatchDeadLetter, otelmw.BatchTracing, otelmw.BatchMetrics);
// the first listed is the outermost. It may be given more than once.
func BatchMiddleware(mws ...herald.BatchMiddleware) BatchOption {
	return func(o *batchOptions) error {
		for _, m := range mws {
			if m == nil {
				return &herald.ConfigError{Key: "batch middleware", Problem: "is nil", Allowed: "non-nil herald.BatchMiddleware values"}
			}
		}
		o.middleware = append(o.middleware, mws...)
		return nil
	}
}

// SubscribeBatch delivers topic's messages to h in batches until ctx is
// done or the subscriber is closed, then lets the batches in flight
// finish, settles their messages and returns nil, like Subscribe.
//
// A batch is handed to h when it holds BatchSize messages, or BatchWait
// after its first message arrived. h sets a result per message (see
// herald.Batch: Ack, the default; Retry; DeadLetter; FailFrom); an error
// returned by h, or a panic, retries the whole batch. Retried messages
// are redelivered like a Handler's failed ones (see the package
// documentation), each after its own delay.
//
// Order: WithConcurrency(n) runs up to n batches at once; messages with
// the same key always go to the same one of n lanes, so a key's messages
// are handled in delivery order, one batch at a time. Where the subscriber
// redelivers itself (Capabilities.Redelivery is RedeliverLocal: Kafka,
// mem), a retried message is handled again before any later message of
// its key: the later messages of its key in the same batch are retried
// with it whatever their result (never acked past it), and those that
// arrive meanwhile wait. Kafka commits each partition's contiguous
// prefix of settled messages, so after a restart consumption resumes at
// the first one not settled.
//
// Middleware: the subscriber's per-message middleware (WithMiddleware)
// cannot run on a batch; SubscribeBatch refuses a subscriber that has
// any. Give batch middleware with BatchMiddleware.
//
// The stream window is raised to at least BatchSize × the concurrency, so
// that every lane can fill a batch; a backend whose window cannot hold
// one batch (a Watermill subscriber bridged in) is refused.
func (s *Subscriber) SubscribeBatch(ctx context.Context, topic string, h herald.BatchHandler, opts ...BatchOption) error {
	if topic == "" {
		return fmt.Errorf("herald/%s: subscribe batch: topic is empty", s.cfg.Scheme)
	}
	if h == nil {
		return fmt.Errorf("herald/%s: subscribe batch to %q: handler is nil", s.cfg.Scheme, topic)
	}
	bo := batchOptions{size: DefaultBatchSize, wait: DefaultBatchWait}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&bo); err != nil {
			return s.errorf(topic, err)
		}
	}
	if n := len(s.opts.middleware); n > 0 {
		return s.errorf(topic, &herald.ConfigError{Key: "middleware", Value: fmt.Sprint(n),
			Problem: "per-message middleware (WithMiddleware) cannot run on a batch handler",
			Allowed: "a subscriber opened without WithMiddleware, with batch middleware given to SubscribeBatch by subscriber.BatchMiddleware"})
	}
	if m := s.caps.MaxWindow; m > 0 && bo.size > m {
		return s.errorf(topic, &herald.ConfigError{Key: "batch size", Value: fmt.Sprint(bo.size),
			Problem: fmt.Sprintf("is larger than the %s backend hands out unsettled at once", s.cfg.Scheme),
			Allowed: fmt.Sprintf("1 to %d", m)})
	}
	return s.serveRun(ctx, topic, func(r *run) {
		r.batch = newBatching(r, herald.ChainBatch(h, bo.middleware...), bo)
		r.window = max(r.window, min(bo.size*s.opts.concurrency, MaxWindow))
		if m := s.caps.MaxWindow; m > 0 {
			r.window = min(r.window, m)
		}
	})
}
