// Package subscriber opens the consume side of a Herald backend and runs
// handlers on its messages.
//
//	sub, err := subscriber.Open(ctx, "nats://localhost:4222",
//		subscriber.WithGroup("payments"),
//		subscriber.WithConcurrency(8),
//		subscriber.WithMiddleware(middleware.Recover(), middleware.Retry()))
//	if err != nil { ... }
//	defer sub.Close()
//	err = sub.Subscribe(ctx, "orders.created", func(ctx context.Context, m *herald.Message) error {
//		return handle(m) // nil: ack; error: redelivery
//	})
//
// # One path
//
// A Subscribe call keeps one driver stream (adapters.Stream) with a window
// of unsettled messages (WithWindow, else the URL's ?prefetch=, else the
// backend's default). A reader receives deliveries and hands them to the
// workers; the handler's return value settles each one through the
// stream, which acks asynchronously and coalesces where the broker allows.
//
// # Delivery
//
// A message is acked only after its handler returned nil. The handler's
// return value is the only thing that settles a message: a handler that
// acks by hand and then fails still has its message redelivered (the
// contradiction is logged).
//
// An error or a panic (recovered, logged with its stack, returned as an
// error) redelivers the message after a delay that grows with its
// failures: 100 ms, 200 ms, ... up to 10 s; for a permanent error
// (herald.Permanent, e.g. a payload that does not decode) 1 s, 2 s, ... up
// to 5 min, each one logged at error level, since only a dead-letter
// middleware can take such a message away. An error made with
// herald.RetryAfter sets the delay itself. The subscriber owns this delay
// on every backend; who redelivers depends on what the backend declares
// (adapters.Capabilities.Redelivery, see Subscriber.Capabilities):
//
//   - Kafka and mem (RedeliverLocal): the subscriber handles the message
//     again itself after the delay. Its key stays busy meanwhile: later
//     messages of the same key wait, so per-key order holds across
//     failures. The message holds its partition's commit until it
//     succeeds.
//   - JetStream (RedeliverBroker, native delay): the message is nacked
//     with the delay; the server redelivers it, possibly to another
//     subscriber of the group.
//   - RabbitMQ (RedeliverBroker): the subscriber holds the message for
//     the delay, then nacks it and the broker requeues it. Later messages
//     of its key may be handled before it.
//
// herald.Delivery.Attempt (in the handler's ctx) counts deliveries, 1
// for the first: the broker's count where it keeps one
// (Capabilities.CountsAttempts), else the subscriber's own. Handlers must
// be idempotent: delivery is at-least-once.
//
// # Concurrency and order
//
// WithConcurrency(n) runs up to n handlers at once per Subscribe call.
// Messages with the same key (herald.SetKey) are handled one at a time, in
// the order the stream delivered them, and the others in parallel; what
// order the backend delivers in is Capabilities.Order (Kafka: per key,
// through its partition; the queues and streams: per queue).
//
// # Batches
//
// SubscribeBatch hands a herald.BatchHandler up to BatchSize messages, or
// what arrived within BatchWait, and settles each message by the result
// the handler set for it (herald.Batch: Ack, Retry, DeadLetter,
// FailFrom); a returned error or a panic retries the whole batch. Retries
// follow the redelivery rules above, per message; where the subscriber
// redelivers itself, a retried message is handled again before the later
// messages of its key, which are retried with it. Batch middleware
// (BatchMiddleware) replaces the per-message middleware, which
// SubscribeBatch refuses. See docs/guarantees.md for what each backend
// does with the results.
//
// # Failures are visible
//
// Without WithLogger, the subscriber logs through herald.DefaultLogger():
// slog.Default() at warn level. Handler panics, permanent errors nothing
// parked, broken subscriptions and expired drains are logged at warn or
// error and passed to the WithErrorHook function. Health reports broken
// subscriptions for a health endpoint. A subscription that breaks (lost
// connection, deleted queue, revoked permission) is retried with backoff;
// one that has not recovered within the recovery timeout
// (WithRecoveryTimeout, default 2 min) ends its Subscribe call with an
// error wrapping herald.ErrSubscriptionLost.
//
// # Stopping
//
// Subscribe blocks until its ctx is done or Close is called; both also
// interrupt a Subscribe still waiting for the backend. It then stops
// taking new messages, lets in-flight handlers finish and settles their
// messages, and returns nil. The wait is bounded by the drain timeout
// (and by the ctx given to Shutdown): when it expires, handler contexts
// are cancelled, and handlers still running a second later are detached:
// they run on, but settle nothing, so their messages stay unacked and are
// redelivered, and the backend is closed safely under them. Close does
// this for every Subscribe call and then closes the backend connection;
// it is idempotent. Shutdown(ctx) is Close bounded by ctx.
package subscriber
