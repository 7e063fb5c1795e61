// Package natsx is the JetStream engine shared by Herald's nats and
// embedded drivers: settings, header mapping, stream provisioning, a
// Topic that pipelines PubAcks (topic.go) and a pull-consumer Stream with
// a window, coalesced pulls and in-progress acks for what it holds
// (stream.go, pull.go), all implementing the adapters.Driver contract.
//
// It is internal: its API may change at any time. Users configure it
// through the options documented in the adapters/nats package, and reach
// the objects under it through As with exported types only
// (**nats.Conn, *jetstream.JetStream, and **server.Server for embedded).
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
// Topic.Send and Subscription.Open honour their context at every wait,
// and Close interrupts them. While the connection is down a Send waits
// for it (and resends what was not acknowledged) until its context ends,
// then fails with herald.ErrUnreachable (never written) or
// herald.ErrOutcomeUnknown (written, not answered). There is no publish
// timeout of the engine's own: the publisher's deadline is in the
// context.
//
// ConnWatch logs a lost connection and asynchronous errors at debug
// level and the reconnect at info level on Env.Logger; the publisher and
// subscriber packages log an outage once, at warn. A Stream reports a
// lost connection through StreamOptions.Status (an error wrapping
// herald.ErrSubscriptionLost and the cause) and its recovery with nil;
// a consumer or stream deleted, or a connection closed for good
// (max_reconnects), breaks the Stream: Receive returns the error and the
// subscriber reopens it with backoff.
//
// Errors read herald/<scheme>: <op> "<topic>": <cause>, with scheme "nats"
// or "embedded" (Options.Scheme).
package natsx
