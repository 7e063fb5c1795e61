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
// A message is acked only after its handler returned nil. An error or a
// panic (recovered, logged with its stack, returned as an error) nacks it
// and the backend delivers it again. Handlers must therefore be idempotent:
// delivery is at-least-once.
//
// # Concurrency
//
// WithConcurrency(n) runs up to n handlers at once per Subscribe call, as n
// competing consumers of the backend. Per-key order holds with n = 1, and
// on Kafka for any n (each partition is consumed by one worker).
//
// # Stopping
//
// Subscribe blocks until its ctx is done or Close is called. It then stops
// taking new messages, lets in-flight handlers finish within the drain
// timeout (their ctx is cancelled when it expires), acks what succeeded and
// returns nil. Close does the same for every Subscribe call and then closes
// the backend connection; it is idempotent.
package subscriber
