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
// # Delivery
//
// A message is acked only after its handler returned nil. The handler's
// return value is the only thing that settles a message: the handler gets
// its own *herald.Message (same ID, payload and metadata) whose Ack and
// Nack settle nothing, and a handler that acks by hand and then fails
// still has its message redelivered (the contradiction is logged).
//
// An error or a panic (recovered, logged with its stack, returned as an
// error) nacks the message, and the backend delivers it again after a
// delay that grows with the message's failures: 100 ms, 200 ms, ... up to
// 10 s; for a permanent error (herald.Permanent, e.g. a payload that does
// not decode) 1 s, 2 s, ... up to 5 min, each one logged at error level,
// since only a dead-letter middleware can take such a message away. An
// error made with herald.RetryAfter sets the delay itself. Failures are
// counted by the backend's delivery count where it has one, else per
// message ID by the subscriber. How each backend delays a redelivery is in
// docs/guarantees.md. Handlers must be idempotent: delivery is
// at-least-once.
//
// # Concurrency
//
// WithConcurrency(n) runs up to n handlers at once per Subscribe call, as n
// competing consumers of the backend. Per-key order holds with n = 1, and
// on Kafka for any n (each partition is consumed by one worker).
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
