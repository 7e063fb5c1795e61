// Package herald is the shared vocabulary of the Herald messaging SDK: the
// Message type, handlers and middleware, the Publisher and Subscriber
// interfaces, configuration and errors.
//
// Herald gives Go services one publish/subscribe API whose backend is
// chosen by configuration: Kafka, RabbitMQ, NATS (JetStream or core), an
// in-memory bus, or an embedded durable broker that needs no setup.
//
// # What comes from Watermill
//
// Message is Watermill's message type. Package wmbridge makes every Herald
// backend a Watermill message.Publisher and message.Subscriber (a
// Watermill Router works on it) and any Watermill Publisher/Subscriber a
// Herald backend. The built-in backends sit on the official clients,
// because Watermill's adapters hold one message in flight (measured 3-12x
// slower; see each adapter's package documentation):
//
//   - kafka: franz-go;
//   - amqp, amqps: amqp091-go;
//   - nats (JetStream and core), embedded: nats.go (embedded: nats-server
//     in the process);
//   - mem: an in-process bus of Herald's.
//
// Each implements the driver contract of package adapters and declares its
// capabilities (adapters.Capabilities); the facade (packages publisher and
// subscriber) owns every policy: timeouts, windows, redelivery, order
// across a failure, reopening, outage logging.
//
// One conformance suite (package adapters/adaptertest) checks every
// backend against the same contract; docs/guarantees.md says where they
// differ.
//
// # Getting started
//
// Open a publisher and a subscriber with packages publisher and subscriber:
//
//	pub, err := publisher.Open(ctx, "nats://localhost:4222")
//	sub, err := subscriber.Open(ctx, "nats://localhost:4222", subscriber.WithGroup("payments"))
//	err = sub.Subscribe(ctx, "orders.created", func(ctx context.Context, m *herald.Message) error {
//		return nil // ack
//	})
//
// # Delivery contract
//
// Delivery is at-least-once (NATS core mode: at most once): Publish
// returns nil only after the broker has the message (with the defaults:
// Kafka acks=all, RabbitMQ publisher confirms, a JetStream PubAck), and a
// message is acknowledged only after its handler returned nil. A handler
// error or panic leads to redelivery; wrap an error with Permanent to tell
// retry middleware not to try again.
//
// # Configuration
//
// See Config for the URL form, ParseURL, LoadFile and FromEnv. An empty
// target reads the environment (HERALD_URL, HERALD_CONFIG, ...; other
// HERALD_* variables only warn); when nothing is configured Resolve falls
// back to the embedded broker, which stores messages on local disk, and
// warns. Set HERALD_REQUIRE_URL=1, or use RequireTarget, to make a missing
// target an error instead.
//
// Secrets never print: the password and secret options (IsSecretKey) are
// redacted from errors, String, every fmt verb, log/slog, JSON, YAML and
// MarshalText; Config.URL is the one form that keeps them.
package herald
