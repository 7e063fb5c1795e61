// Package wmbridge is Herald's one bridge to Watermill
// (github.com/ThreeDotsLabs/watermill), both ways.
//
// # Herald backends as Watermill Pub/Subs
//
// OpenPublisher and OpenSubscriber (or NewPublisher and NewSubscriber,
// given an adapters.Driver and a herald.Config) give any Herald backend,
// mem://, embedded://, kafka://, amqp:// or nats://, as a Watermill
// message.Publisher and message.Subscriber (with
// message.SubscribeInitializer), so that a Watermill Router with its own
// middleware, CQRS and the rest of Watermill run on Herald's drivers:
//
//	pub, _ := wmbridge.OpenPublisher(ctx, "kafka://localhost:9092")
//	sub, _ := wmbridge.OpenSubscriber(ctx, "kafka://localhost:9092?group=billing")
//	router.AddHandler("bill", "orders", sub, "invoices", pub, handler)
//
// Publish is built on the driver's Send: it hands every message to the
// backend, then waits until the broker acknowledged each one, within the
// publish timeout (WithPublishTimeout, default
// publisher.DefaultPublishTimeout). Its errors are *herald.Error values:
// herald.ErrOutcomeUnknown means the broker may have stored the message,
// herald.ErrUnreachable that it was never written.
//
// Subscribe opens a stream with the consume window (WithWindow, the URL's
// ?prefetch=N, or the backend's default) and feeds the channel one
// message at a time, as Watermill's own subscribers do: the next message
// comes once the previous one was acked or nacked, so the stream's order
// (per key on Kafka, per queue elsewhere) is the channel's. msg.Ack()
// settles the message at the broker. msg.Nack() has it delivered again
// after the nack delay (WithNackDelay, default 100 ms): where the backend
// holds nacked messages for the subscriber (Capabilities.Redelivery is
// RedeliverLocal: Kafka, mem) the bridge sends it again on the channel
// before any later message; elsewhere it goes back to the broker
// (natively delayed where Capabilities.NackDelay, as on NATS JetStream),
// and later messages flow meanwhile. A message's Context is cancelled
// once it is acked or nacked, and when the subscription ends. A stream
// that breaks is reopened with backoff; an outage is logged once.
//
// Watermill's universal suite (pubsub/tests) runs on all five backends,
// with Features derived from each backend's Capabilities, in the module
// wmbridge/wmtest.
//
// # Watermill Pub/Subs as Herald backends
//
// NewDriver makes an adapters.Driver of any Watermill Pub/Sub, from a
// Backend: constructors of its publisher and subscriber for a
// herald.Config, the URL options they read, and the Capabilities it
// honestly has (Conservative when none are given). Register makes it the
// backend of a scheme, so that publisher.Open and subscriber.Open use it:
//
//	wmbridge.Register("wmkafka", wmbridge.Backend{
//		NewPublisher:  newSaramaPublisher,
//		NewSubscriber: newSaramaSubscriber,
//		Capabilities:  func(herald.Config) adapters.Capabilities { ... },
//	})
//	pub, _ := publisher.Open(ctx, "wmkafka://localhost:9092")
//
// The Topic publishes in send order, several queued messages to one
// topic in one Watermill Publish call, and answers each message's done
// with its result; an error of a Watermill publisher is
// herald.ErrOutcomeUnknown (it does not say whether the broker stored
// the message) unless Backend.ErrorKind says better. The Stream receives
// from the Watermill channel and holds at most its window of messages
// unsettled; Ack is msg.Ack() and Nack msg.Nack(). A Watermill subscriber
// typically hands the next message of a subscription only after the
// previous one was settled, so a window above 1 buys nothing there
// (Conservative declares DefaultWindow 1). A Watermill Nack has no delay
// and a Watermill message no delivery count: NackDelay and CountsAttempts
// are never declared, and the facade delays redeliveries itself.
//
// Watermill's GoChannel passes Herald's conformance suite
// (adapters/adaptertest) through NewDriver in this package's tests;
// watermill-kafka on Sarama and watermill-sql on PostgreSQL do in
// wmbridge/wmtest.
package wmbridge
