// Package adapters is Herald's driver layer: each backend registers an
// Adapter for its URL scheme in an init function, and Open returns the
// Watermill publisher and subscriber for a target. Users normally call the
// publisher and subscriber packages instead; this package is the stable
// interface for writing a new backend and for dropping down to Watermill.
//
// # Registering an adapter
//
//	func init() { adapters.Register("mybroker", myAdapter{}) }
//
// Import the adapter for its side effect (or import adapters/all for
// every built-in one):
//
//	import _ "github.com/heraldkit/herald/adapters/kafka"
//
// # The contract
//
// A Watermill subscriber returned by an adapter must deliver each message to
// one of the Subscribe calls made on it for the same topic (they compete),
// with or without a group. With a group, subscribers in the same group, in
// any process, share the messages, and each group gets every message.
// Without a group, the subscriber is a private consumer that gets every
// message published after its Subscribe returned. A message is settled only
// by Ack (processed) or Nack (redeliver). Package adaptertest checks all of
// this against a real broker.
//
// # Contexts, closing and failures
//
//   - Opening a publisher or subscriber, Subscribe and SubscribeInitialize
//     honour their context at every wait (dial, handshake, metadata,
//     readiness): when it ends they return promptly with an error wrapping
//     ctx.Err(). Close interrupts them too; every method called after Close
//     returns an error wrapping herald.ErrClosed.
//   - Publishing: see ContextPublisher. While the broker is unreachable a
//     publish waits for it until its context ends, then returns an error
//     wrapping herald.ErrUnreachable.
//   - A subscription that breaks (lost connection, deleted queue or
//     consumer, revoked permission) is reported with ReportStatus on the
//     Subscribe context and logged at warn level with its cause (once per
//     outage, not once per retry); recovering is reported with a nil
//     error. The adapter may retry by itself with backoff or close the
//     subscription's channel; the subscriber package decides when to give
//     up (its recovery timeout).
//   - Nack honours NackDelay: natively where the broker can delay a
//     redelivery, otherwise by holding the message unsettled until the
//     delay has passed and then nacking it.
//   - Names derived from topics and groups (queues, exchanges, streams,
//     consumers, group IDs) are injective: two different (topic, group)
//     pairs never share a broker object, separators included.
//
// # Errors
//
// Errors name the backend, the operation and the topic, in one style:
//
//	herald/<scheme>: publish to "orders": <cause>
//	herald/<scheme>: subscribe to "orders": <cause>
//
// and wrap the broker's own error and Herald's sentinels (herald.ErrClosed,
// herald.ErrUnreachable, ...) so errors.Is and errors.As reach them. The
// cause names the likely reason where the broker's own message does not
// (a TLS port dialled without TLS, SASL against a listener without it, a
// message over the broker's size limit). The publisher and subscriber
// packages return adapter errors unchanged.
package adapters
