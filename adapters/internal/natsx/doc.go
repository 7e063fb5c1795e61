// Package natsx is the JetStream engine shared by Herald's nats and
// embedded adapters: settings, header mapping, stream provisioning, a
// publisher that pipelines PubAcks (PublishContext, PublishAsync) and a
// pull-consumer subscriber (Subscribe for Watermill, Stream for Herald's
// windowed consume; see stream.go and async.go).
//
// It is internal: its API may change at any time. Users configure it
// through the options documented in the adapters/nats package, and reach
// the objects under it through As with exported types only
// (**nats.Conn, *jetstream.JetStream, *message.Publisher,
// *message.Subscriber, and **server.Server for embedded).
//
// # De-duplication
//
// The Nats-Msg-Id header of every message is DedupID(subject, id): the
// message ID and the subject. A resend of the same message to the same
// subject within the stream's duplicates window (a PubAck lost to a
// disconnect, a retried Publish) is stored once; the same message sent to
// two subjects of one stream (a dead-letter copy on a stream that
// captures both {topic} and {topic}.dlq) is stored twice. A PubAck that
// says Duplicate thus always means this message was already stored under
// this subject, and counts as stored. The message ID itself travels in
// the _watermill_message_uuid header.
//
// # Names
//
// Stream and consumer names are an injective encoding of topics and
// groups (see StreamName, GroupConsumerName, PrivateConsumerName): two
// different topics never share a stream Herald creates, and two different
// (group, topic) pairs never share a consumer, whatever separators they
// contain.
//
// # Contexts, failures and errors
//
// Publisher.PublishContext and Subscriber.Subscribe honour their context
// at every wait, and Close interrupts them. While the connection is down a
// publish waits for it (and resends what was not acknowledged) until its
// context ends or PublishTimeout passed, then fails with an error
// wrapping herald.ErrUnreachable and the context's error.
//
// ConnWatch logs a lost connection at warn level (once, with the cause),
// the reconnect at info level, and asynchronous errors (a permission
// violation) at warn level, at most once a minute each. A subscription
// that breaks (connection lost, consumer or stream deleted, permission
// refused, consumer creation failing) is reported with
// adapters.ReportStatus on its Subscribe context, wrapping
// herald.ErrSubscriptionLost and the cause, and logged at warn level once
// per outage (see Health); the consumer is created again with delays
// growing from 100ms to 30s, the connection's return is awaited without
// polling, and the recovery is reported with nil and logged at info
// level. If nats.go gives up reconnecting (max_reconnects), the loss is
// reported and the subscription's channel closes.
//
// Errors read herald/<scheme>: <op> "<topic>": <cause>, with scheme "nats"
// or "embedded" (Options.Scheme).
package natsx
