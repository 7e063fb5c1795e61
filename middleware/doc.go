// Package middleware is Herald's production middleware: structured
// logging, retry with backoff, dead-lettering, panic recovery, timeouts,
// correlation IDs and deduplication. Every piece works the same on every
// backend, because it only uses Herald's contract (a nil handler result
// acks, an error nacks, herald.RetryAfter asks for a delayed redelivery)
// and the message metadata. It imports nothing but Herald and the
// standard library; OpenTelemetry tracing and metrics are in package
// github.com/heraldkit/herald/middleware/otelmw, so that a program using
// Retry or DeadLetter does not link OpenTelemetry.
//
// Consumer middleware is a herald.Middleware (func(Handler) Handler), given
// to subscriber.WithMiddleware; publish middleware is a
// herald.PublishMiddleware, given to publisher.WithMiddleware. In a list
// the first is the outermost: it sees the message first and the result
// last.
//
// # The recommended stack
//
// One call each gives the stacks with sane defaults:
//
//	cfg := middleware.Config{Logger: logger, DeadLetterTopic: "{topic}.dlq"}
//	pub, err := publisher.Open(ctx, url, publisher.WithMiddleware(middleware.RecommendedPublish(cfg)...))
//	mws, err := middleware.Recommended(pub, cfg)
//	sub, err := subscriber.Open(ctx, url, subscriber.WithMiddleware(mws...))
//
// otelmw.Recommended and otelmw.RecommendedPublish return the same stacks
// with Tracing and Metrics outermost (items 1 and 2 below). The consumer
// order, outermost first, and why:
//
//  1. Tracing (otelmw): the span must cover the whole delivery (every
//     retry, the dead-letter publish), and everything inside logs and
//     measures within it; the dead-lettered copy is published as its
//     child.
//  2. Metrics (otelmw): sees each delivery once with its final outcome and
//     duration, and counts the retries and dead-letters reported from
//     inside.
//  3. CorrelationID: before Logging, so every line has the ID, and before
//     any publish from the handler or DeadLetter.
//  4. Logging: one line per retry, dead-letter and failed delivery, a
//     debug line per delivery; inside Tracing so trace-aware slog handlers
//     can add the trace ID from ctx.
//  5. Deduplicate (optional): outside DeadLetter, so that a message
//     dead-lettered once (which counts as processed) is not dead-lettered
//     again when the broker redelivers it.
//  6. DeadLetter: outside Retry, so it acts only on the final outcome:
//     after the last attempt, or at once for a herald.Permanent error.
//  7. Retry: retries everything inside it.
//  8. Recover: inside Retry, so a panic becomes an error that is retried
//     and dead-lettered like any other (the subscriber's own recovery,
//     outermost, would only nack it).
//  9. Timeout (optional): innermost, so the deadline applies to each
//     attempt rather than to all of them.
//
// The publish order is PublishCorrelationID, PublishLogging; with otelmw,
// PublishTracing (the producer span, whose context is injected) and
// PublishMetrics come first.
//
// # Events: how Retry and DeadLetter reach logs, metrics and traces
//
// Retry, DeadLetter and Deduplicate report their decisions (a retry, a
// dead-letter, a duplicate) as Events to the observers registered further
// out in the same chain. Logging (and otelmw's Metrics and Tracing)
// register themselves, so listing them outside (before) Retry and
// DeadLetter is all the wiring needed; Observe registers an Observer of
// your own, and OnRetry and OnDeadLetter are per-middleware hooks. Attempt(ctx) tells a handler which
// attempt it is running.
//
// # Retry
//
// Defaults: DefaultMaxAttempts (5) attempts in all, a first delay of
// DefaultInitialDelay (100ms) doubling (DefaultMultiplier) up to
// DefaultMaxDelay (10s), each drawn within ±DefaultJitter (50%), and at
// most DefaultMaxElapsed (1m) from the first attempt to the start of the
// last. Retry stops at once on a herald.Permanent error, and when ctx is
// done (the subscriber is stopping: the message is nacked and redelivered
// later, not dead-lettered). When it gives up it returns an
// *ExhaustedError.
//
// By default Retry sleeps in the handler, holding its worker (and, with
// concurrency 1, the messages behind it). With Redelivery it returns
// herald.RetryAfter(err, delay) instead: the subscriber redelivers the
// message after that delay, and the handler goroutine is free for other
// messages meanwhile. Attempts are herald.Delivery.Attempt (the broker's
// count where the backend keeps one); the first failure's time, for
// MaxElapsed, is kept per message ID in bounded memory
// (RedeliveryMemory). Who redelivers is the backend's declared
// adapters.Capabilities.Redelivery, the same as for any failed handler
// (docs/guarantees.md):
//
//	mem, kafka,   the subscriber holds the message for the delay and hands
//	nats core     it to a worker again, before later messages of its key
//	              (order kept); other keys are handled meanwhile.
//	amqp          the subscriber holds the message for the delay, then
//	              nacks it (requeue); later messages of its key go on.
//	nats,         a JetStream NakWithDelay: the server redelivers after the
//	embedded      delay; later messages of its key go on.
//
// The attempt count and dead-lettering are right on every backend.
//
// # Dead letters
//
// DeadLetter publishes a copy of the message (same payload, metadata and
// key, but a new ID, so that a backend that drops a message whose ID it
// has just stored, such as JetStream with one stream for both topics, keeps
// it) with these headers, then acks the original:
//
//	herald-dlq-original-id    ID of the message that was dead-lettered
//	herald-dlq-topic          topic the message was consumed from
//	herald-dlq-group          consumer group, if any
//	herald-dlq-backend        backend scheme
//	herald-dlq-error          last error text (at most 2048 bytes)
//	herald-dlq-reason         exhausted, permanent or failed
//	herald-dlq-attempts       attempts made
//	herald-dlq-first-failure  RFC 3339 (UTC, nanoseconds) time of the first failure
//	herald-dlq-time           RFC 3339 time it was dead-lettered
//
// If that publish fails, the message is nacked: it is never dropped.
//
// # Batches
//
// A batch handler (subscriber.SubscribeBatch) takes batch middleware,
// herald.BatchMiddleware, not these per-message ones: BatchRecover, and
// BatchDeadLetter, which parks the messages the handler marked
// herald.OutcomeDeadLetter in DeadLetter's format, in one Publish call.
// Retry has no batch form: a batch handler retries a message by its
// result (herald.Batch.Retry), and the subscriber redelivers it.
//
// # Options never fail
//
// Constructors take functional options and cannot fail: every option value
// has a documented meaning (for example MaxAttempts(0) means no limit on
// the count). Recommended, which checks a whole Config, returns an error.
package middleware
