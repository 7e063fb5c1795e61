// Package adapters is Herald's driver layer: the one contract every
// backend implements (Driver, Topic, Subscription, Stream), the
// Capabilities value each declares, and the registry of schemes. Users
// call the publisher and subscriber packages; this package is for
// writing a backend. Package adaptertest checks a driver against the
// contract, at the driver level and end to end, skipping by its declared
// capabilities.
//
// # Registering a driver
//
//	func init() { adapters.Register("mybroker", myDriver{}) }
//
// Import the driver for its side effect (adapters/all imports every
// built-in one, the embedded nats-server included):
//
//	import _ "github.com/heraldkit/herald/adapters/kafka"
//
// # Who does what
//
// Every method of the contract is required; the facade finds nothing by
// type assertion and passes nothing to a driver in context values or
// message metadata: the logger comes in Env at open, the stream window and
// the status sink in StreamOptions, the deadline of a message in Send's
// ctx, a delivery's attempt count and key in Received.
//
// A driver does I/O: it connects, reconnects its transport, sends,
// receives, settles, and reports what happened as a *herald.Error with a
// Kind (unreachable, closed, denied, too large, invalid, outcome unknown).
// Policies are the facade's, one place each: the publish timeout and the
// async window (package publisher); the consume window, the redelivery
// delay, holding a nacked message, handling a message again before later
// ones of its key, reopening a broken stream, logging an outage once, and
// what Attempt means (package subscriber). The capabilities tell the
// facade what it must do itself: with RedeliverLocal it handles a failed
// message again; with RedeliverBroker and no NackDelay it holds the
// message for its delay before Nack. A delayed publish (PublishAt,
// PublishAfter) is checked against Capabilities.Delay by the facade and
// reaches the driver as Topic.Send with SendOptions.At; a driver without
// delayed delivery declares a zero Delay and refuses a non-zero At, never
// sending the message at once. Broker properties (herald.Properties,
// PublishWith) are checked against Capabilities.Properties the same way
// and reach the driver in SendOptions, never in metadata: a metadata
// entry is a header both ways, so a consumed message published again
// sets no property by accident.
//
// # Request/reply
//
// OpenRequester opens a Requester: one reply channel per client, shared
// by every request in flight, matched by correlation (package request is
// the facade: the codec, the deadline header, the typed errors). The
// reply address and the correlation token travel in the request as the
// broker's own properties where it has them, and the driver's streams
// hand them to the responder's handler as the documented headers
// ReplyToHeader and CorrelationHeader. Capabilities.Request declares the
// native path and whether a request nobody subscribes to fails at once
// (KindNoResponder); a backend without a path refuses OpenRequester with
// an error naming itself.
//
// # Groups and names
//
// With a group, streams of the same group, in any process, share a
// topic's messages, and each group gets every message. Without a group, a
// stream is a private consumer that gets every message published after
// Open returned. Names derived from topics and groups (queues, exchanges,
// streams, consumers, group IDs) are injective and valid for the broker:
// two different (topic, group) pairs never share a broker object.
//
// # Common options
//
// The URL option prefetch (the consume window) means the same on every
// backend and is read by the facade (SplitCommon) before the driver
// validates the rest. A driver refuses every option its code does not
// read.
package adapters
