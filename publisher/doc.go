// Package publisher opens the publish side of a Herald backend.
//
//	pub, err := publisher.Open(ctx, "kafka://localhost:9092",
//		publisher.WithMiddleware(middleware.PublishTracing()))
//	if err != nil { ... }
//	defer pub.Close()
//	msg := herald.NewMessage([]byte(`{"id":1234}`))
//	herald.SetKey(msg, "order-1234")
//	err = pub.Publish(ctx, "orders.created", msg)
//
// # One path
//
// Publish and PublishAsync share one path to the driver: the publish
// middleware run (on copies of the caller's messages), then every
// message is handed to the driver's adapters.Topic.Send with its deadline
// and a per-message result. Publish waits for the results of its
// messages, so concurrent Publish calls pipeline on the driver's
// connection (each caller returns after its own acknowledgement);
// PublishAsync returns once the message is taken and calls done with the
// result.
//
// # Delivery
//
// Publish returns nil only after the broker has accepted every message
// (Kafka acks, RabbitMQ publisher confirms, JetStream PubAck). After Close
// it returns an error wrapping herald.ErrClosed. Publish never changes the
// messages it is given (middleware work on copies), so one message may be
// published concurrently. Messages published in order on one Publisher,
// to one topic with the same key, reach the broker in that order.
//
// # Delayed delivery
//
// PublishAt and PublishAfter publish for delivery at a time, on the path
// of Publish (middleware included) to the driver's adapters.Topic.Send with SendOptions.At,
// and return nil once the broker stored the delayed message. The
// publisher checks the backend's Capabilities.Delay first: a delay past
// its maximum, or any delay on a backend without delayed delivery, is
// refused with herald.ErrInvalid naming the backend and its maximum,
// never sent at once. docs/guarantees.md lists each backend's maximum,
// precision, durability and order.
//
// # Deadlines: one publish timeout
//
// Every message has a deadline: its ctx's for Publish, and for a ctx
// without one, or for PublishAsync whatever its ctx, the publish timeout
// (WithPublishTimeout, default 30 s). While the broker cannot be reached
// (stopped, restarting, network cut) the driver waits for its connection
// until then. The error then says what is known, matched with errors.Is:
// herald.ErrUnreachable when the message was never written (safe to
// publish again), herald.ErrOutcomeUnknown when it was written but not
// answered (the broker may have it: publishing again may duplicate it).
// Errors that waiting cannot fix (herald.ErrTooLarge, herald.ErrDenied,
// herald.ErrInvalid) are returned at once.
//
// # The async window
//
// At most WithAsyncWindow messages (default DefaultAsyncWindow) given to
// PublishAsync wait for their answer at once; PublishAsync waits for room
// until its ctx ends. A message's slot is freed after its done returned,
// so Flush returns only once every done ran. It is the only publish window:
// drivers keep none of their own.
//
// # Stopping
//
// Close waits for the publishes in flight, then closes the connection;
// since every message has a deadline, it returns within the publish
// timeout. Shutdown(ctx) does the same within ctx: the messages still
// unanswered then fail with herald.ErrClosed.
//
// # Errors
//
// Errors are *herald.Error values that read
// "herald/<scheme>: publish to "<topic>": <cause>" and carry a Kind
// (herald.KindOf) matching its sentinel, and the broker's own error for
// errors.As.
package publisher
