// Package herald is the shared vocabulary of the Herald messaging SDK: the
// Message type, handlers and middleware, the Publisher and Subscriber
// interfaces, configuration and errors.
//
// Herald gives Go services one publish/subscribe API whose backend is
// chosen by configuration: Kafka, RabbitMQ, NATS (JetStream or core), an
// in-memory bus, or an embedded durable broker that needs no setup. It is a
// thin facade over Watermill; every backend keeps the same contract, proven
// by one conformance suite (package adapters/adaptertest).
//
// # Getting started
//
// Open a publisher and a subscriber with packages publisher and subscriber.
// The target is a URL; an empty target reads HERALD_URL and falls back to
// the embedded broker:
//
//	pub, err := publisher.Open(ctx, "nats://localhost:4222")
//	sub, err := subscriber.Open(ctx, "nats://localhost:4222", subscriber.WithGroup("payments"))
//	err = sub.Subscribe(ctx, "orders.created", func(ctx context.Context, m *herald.Message) error {
//		return nil // ack
//	})
//
// # Delivery contract
//
// Delivery is at-least-once: Publish returns nil only after the broker has
// the message, and a message is acknowledged only after its handler returned
// nil. A handler error or panic leads to redelivery; wrap an error with
// Permanent to tell retry middleware not to try again.
//
// # Configuration
//
// See Config for the URL form, ParseURL, LoadFile and FromEnv. Passwords are
// redacted from every String, error and log line.
package herald
