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
// # Delivery
//
// Publish returns nil only after the broker has accepted every message
// (Kafka acks, RabbitMQ publisher confirms, JetStream PubAck). When ctx is
// done first, Publish returns ctx's error; the broker may still receive the
// message, so treat it like any failed publish (retry; consumers must
// tolerate duplicates). After Close, Publish returns herald.ErrClosed.
// Publish never changes the messages it is given, so one message may be
// published concurrently.
//
// # The broker unreachable
//
// Every backend keeps one contract while the broker cannot be reached
// (stopped, restarting, network cut): Publish waits for the connection to
// come back until its ctx ends, or, for a ctx without deadline, until the
// publish timeout (WithPublishTimeout, default 30 s); it then returns an
// error wrapping herald.ErrUnreachable and the ctx's error. Errors that
// waiting cannot fix (a message over the broker's size limit, a refused
// permission) are returned at once.
//
// # Stopping
//
// Close waits for the publishes in flight, then closes the connection.
// Shutdown(ctx) does the same within ctx's deadline.
//
// # Errors
//
// Errors read "herald/<scheme>: publish to "<topic>": <cause>" and wrap
// the sentinels (herald.ErrClosed, herald.ErrUnreachable) and the broker's
// own error for errors.Is and errors.As.
package publisher
