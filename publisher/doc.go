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
package publisher
