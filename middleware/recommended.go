package middleware

import (
	"log/slog"
	"time"

	"github.com/heraldkit/herald"
)

// Config configures the recommended stacks (see Recommended and
// RecommendedPublish). The zero Config is valid: retry with the
// defaults, no logging, no dead-lettering. Tracing and metrics are in
// package otelmw, whose Recommended adds them around this stack.
type Config struct {
	// Logger receives the Logging lines; nil disables logging.
	Logger *slog.Logger
	// DeadLetterTopic is where messages that fail for good are parked
	// (TopicPlaceholder stands for the consumed topic, as in
	// "{topic}.dlq"). Empty disables dead-lettering: a message that
	// exhausts its retries is then nacked and retried again, forever.
	DeadLetterTopic string
	// Retry configures Retry (nil: the defaults: 5 attempts, 100ms initial
	// delay doubling up to 10s, 1m max elapsed, jitter 0.5).
	Retry []RetryOption
	// Timeout, when positive, bounds each attempt (see Timeout).
	Timeout time.Duration
	// Deduplicate adds Deduplicate with these options when non-nil (an
	// empty, non-nil slice: the defaults).
	Deduplicate []DedupOption
}

// Recommended returns the consumer middleware Herald recommends, in this
// order (the first is the outermost):
//
//	CorrelationID  correlation ID into ctx, for logs and onward messages
//	Logging        logs retries, dead-letters and failures
//	Deduplicate    only with cfg.Deduplicate
//	DeadLetter     only with cfg.DeadLetterTopic; sees the final outcome
//	Retry          retries what is inside it
//	Recover        panics become errors that Retry retries
//	Timeout        only with cfg.Timeout; a deadline per attempt
//
// pub publishes the dead-lettered messages (use a publisher with
// RecommendedPublish middleware); it may be nil without a
// DeadLetterTopic. Pass the result to subscriber.WithMiddleware.
// otelmw.Recommended puts Tracing and Metrics outside this stack.
func Recommended(pub herald.Publisher, cfg Config) ([]herald.Middleware, error) {
	if cfg.DeadLetterTopic != "" && pub == nil {
		return nil, &herald.ConfigError{Key: "DeadLetterTopic", Value: cfg.DeadLetterTopic, Problem: "needs a publisher, but pub is nil", Allowed: "a non-nil herald.Publisher, or no DeadLetterTopic"}
	}
	if cfg.Timeout < 0 {
		return nil, &herald.ConfigError{Key: "Timeout", Value: cfg.Timeout.String(), Problem: "is negative", Allowed: "0 (no timeout) or a positive duration"}
	}
	mws := []herald.Middleware{CorrelationID()}
	if cfg.Logger != nil {
		mws = append(mws, Logging(cfg.Logger))
	}
	if cfg.Deduplicate != nil {
		mws = append(mws, Deduplicate(cfg.Deduplicate...))
	}
	if cfg.DeadLetterTopic != "" {
		mws = append(mws, DeadLetter(pub, cfg.DeadLetterTopic))
	}
	mws = append(mws, Retry(cfg.Retry...), Recover())
	if cfg.Timeout > 0 {
		mws = append(mws, Timeout(cfg.Timeout))
	}
	return mws, nil
}

// RecommendedPublish returns the publish middleware Herald recommends, in
// this order: PublishCorrelationID, PublishLogging (with cfg.Logger). Pass
// the result to publisher.WithMiddleware. otelmw.RecommendedPublish puts
// PublishTracing and PublishMetrics outside them.
func RecommendedPublish(cfg Config) []herald.PublishMiddleware {
	mws := []herald.PublishMiddleware{PublishCorrelationID()}
	if cfg.Logger != nil {
		mws = append(mws, PublishLogging(cfg.Logger))
	}
	return mws
}
