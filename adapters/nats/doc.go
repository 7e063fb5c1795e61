// Package nats is Herald's NATS driver (adapters.Driver): JetStream by
// default (durable, at-least-once), core NATS on request (at most once).
// Import it for its side effect, which registers the "nats" scheme:
//
//	import _ "github.com/heraldkit/herald/adapters/nats"
//
//	nats://user:password@h1:4222,h2:4222?group=payments&ack_wait=1m
//	nats://localhost:4222?mode=core
//	nats://localhost:4222?stream=ORDERS&subjects=orders.>
//
// With no host, 127.0.0.1:4222 is used. Every option is validated before
// connecting; a mistake is a *herald.ConfigError naming the key, the
// problem and what is allowed. Passwords, tokens and key material never
// appear in errors, logs or Config.String. Applications use the
// publisher and subscriber packages; this package is what they drive.
//
// # Why nats.go directly
//
// The driver sits on nats.go and its jetstream package, not on
// watermill-nats. watermill-nats publishes synchronously (one PubAck
// round trip per message) and acks synchronously: measured on the same
// machine with 1 KiB messages, 2.0k-2.7k msg/s end to end with its
// defaults, against 51k msg/s for nats.go's asynchronous publish (PubAck
// futures) into a pull consumer acking each message (docs/performance.md,
// shared/notes/brokers.md). Nothing of watermill-nats is imported; its
// header convention for the message ID (_watermill_message_uuid) is kept,
// so stock watermill-nats consumers read what Herald publishes.
//
// # Capabilities
//
// JetStream (Driver.Capabilities):
//
//	Durable         true (file streams; false with storage=memory)
//	Groups          true: a group is a durable pull consumer
//	Redelivery      RedeliverBroker: a nack is a NAK
//	NackDelay       true: the server delays the redelivery (NakWithDelay)
//	CountsAttempts  true: Attempt is the server's NumDelivered
//	Order           OrderQueue: one stream, delivered in stream order
//	MaxMessageSize  the server's max_payload (0 until a connection learnt it)
//	DefaultWindow   1024 (held messages get progress signals, see Consuming)
//	Delay           message schedules: Max none but the stream's max_age
//	                (less 1.5 s; 7 days less 1.5 s by default), Precision
//	                1.5 s, Durable as the stream, Ordered (see Delayed
//	                delivery)
//
// Core NATS (mode=core):
//
//	Durable         false: the server keeps nothing
//	Groups          true: a group is a queue group
//	Redelivery      RedeliverLocal: the server cannot redeliver, so the
//	                subscriber handles a failed message again itself
//	NackDelay       false, CountsAttempts false (Attempt is the subscriber's)
//	Order           OrderQueue: one publisher connection, in order
//	MaxMessageSize  the server's max_payload; DefaultWindow 256
//	Delay           none (Max 0): PublishAt and PublishAfter are refused
//
// # Publishing (JetStream)
//
// Topic.Send writes the message with nats.go's asynchronous publish and
// returns; done is called from nats.go's PubAck callback, with nil once
// the stream stored the message. There is no goroutine, channel or timer
// per message, no publish timeout and no window in the driver: Send's
// context carries the message's deadline (the publisher's publish
// timeout) and the publisher's async window bounds what is in flight;
// nats.go's own bound on pending PubAcks is set far above it so it never
// stalls a Send. Send waits, within its context, for the topic's stream
// to be known (looked up or created once per topic, then remembered), for
// the connection while it is down and for resends under way; when the
// context ends first the message is not taken: Send returns
// herald.ErrUnreachable (or the context's error when it was cancelled
// while connected) and done is not called.
//
// A message written whose PubAck does not come (the connection dropped:
// nats.go fails every pending PubAck with ErrDisconnected; no answer
// within 5s) is written again once the connection is back, with the same
// Nats-Msg-Id, so a copy the stream stored already is not stored twice;
// while resends are due, new messages wait for them, which keeps the
// order of one Topic's messages. When the message's deadline passes
// first, done gets herald.ErrOutcomeUnknown: it was written and the
// stream may have it (never herald.ErrUnreachable, which means not
// written). A refusal reaches done at once: herald.ErrTooLarge (over the
// server's limit; also from Send, not taken, when nats.go knows the limit
// first), herald.ErrDenied (a publish permission the server refused: it
// sends an asynchronous error and no PubAck, which the driver matches to
// the waiting messages), herald.ErrInvalid (no stream and
// provision=false). Close waits within its context for the answers of
// the messages taken, then fails the rest with herald.ErrClosed.
//
// The stream de-duplicates on the Nats-Msg-Id header, which holds the
// message ID and the subject ("<id> <subject>"): a resend, or a republish
// of the same message to the same topic within the duplicates window (2m
// by default), is stored once, while the same message published to two
// topics of one shared stream (a dead-letter copy to {topic}.dlq) is
// stored under each. A PubAck marked Duplicate therefore means the
// message is stored under that topic, and counts as success.
//
// Streams: the stream that already captures a topic's subject is used,
// whatever its name. When none does, Herald creates one named after the
// topic with file storage, limits retention and a max age of 7 days; with
// stream=NAME, every topic goes to that one stream and is added to its
// subjects on first use. provision=false never creates or changes
// streams.
//
// # Delayed delivery (JetStream)
//
// Topic.Send with SendOptions.At (publisher.PublishAt, PublishAfter) uses JetStream message
// schedules (ADR-51, nats-server 2.12 or later; the embedded server is
// 2.15). The message is stored in the topic's stream as a schedule, with
// the headers "Nats-Schedule: @at <RFC3339>" and "Nats-Schedule-Target:
// <topic>", under a schedule subject of its own,
// "_herald_delay.<topic>.<nuid>": the server keeps one schedule per
// subject, and the target must be another subject of the same stream.
// done gets its PubAck (nil once stored, durably on file storage), with
// the retries, de-duplication (its Nats-Msg-Id names the schedule
// subject) and errors of Send. At its time the server publishes the
// message to the topic in the same stream and purges the schedule;
// consumers, which filter on the topic, never see schedules. The
// delivered message has the ID, payload, key and metadata sent; the
// headers the server stamps on it (Nats-Scheduler, Nats-Schedule-Next) are
// not passed on.
//
// The time is rounded up to the second (@at takes RFC3339 seconds) and
// the server's scheduler fires at most every 250 ms: a delayed message
// is never delivered before its time, and up to 1.5 s after it
// (Capabilities.Delay.Precision). Messages with one delivery time are
// published by the server in stream order, so in publish order
// (Ordered). Schedules live in the stream: they survive a server
// restart on file storage, and count against its limits (max_age bounds
// the delay: Capabilities.Delay.Max is the configured max_age less the
// precision, and a stream found with a shorter max_age refuses a longer
// delay with herald.ErrInvalid).
//
// The first delayed message to a topic makes its stream take schedules:
// allow_msg_schedules, which needs roll-ups allowed (allow_rollup_hdrs,
// deny_purge off) and discard old, and the topic's schedule subjects
// ("_herald_delay.<topic>.*") added to its subjects; an existing stream
// is updated so. Enabling message schedules is one-way: the server
// refuses to disable them on that stream afterwards. A stream that is a
// mirror, has sources or discards new messages cannot take them, nor
// can one with interest retention (it would ack a schedule and drop it at
// once: no consumer filters on a schedule subject), and
// with provision=false a stream that does not is refused with
// herald.ErrInvalid naming allow_msg_schedules (enable them, and add the
// subjects, with nats stream edit). The schedule subjects do not make a
// topic's own stream shared: consumer names stay as they were. A
// publish permission must cover "_herald_delay.<topic>.*"; a topic whose
// first token is _herald_delay is refused (herald.ErrInvalid). Core NATS
// (mode=core) stores nothing, so has no delayed delivery.
//
// # Consuming (JetStream)
//
// A group is a durable pull consumer named after the group (the group and
// topic on a shared stream); every stream opened on it, in any process,
// pulls from it, so they share the messages. A new group starts with
// every message the stream retains (start=newest: only messages published
// after its creation); Prepare creates it ahead of the first
// subscription. Without a group, the streams of one subscription share a
// consumer private to it, starting with messages published after its
// first Open returned, deleted on Close or by the server after
// inactive_threshold if the process dies.
//
// Subscription.Open returns a stream with its own pull requests on one
// inbox: it asks the server for at most StreamOptions.Window messages in
// all (those it holds, handed out or not yet, plus what its requests may
// still bring), in requests of half the window or more, so nothing is
// fetched ahead of the window. The consumer's MaxAckPending is raised to
// the window when lower (max_ack_pending bounds the group as a whole).
// Every delivery the stream holds, handed out by Receive or not yet, is
// kept from redelivery until it is settled: one ticker per stream sends
// JetStream's progress signal for those held for half the ack wait, so
// slow handlers and messages waiting for a busy key are not redelivered
// (issue 14, item 5). Ack is JetStream's fire-and-forget ack (no round
// trip); Nack is a NAK, redelivered after the delay given (the
// subscriber's: a handler's herald.RetryAfter or its backoff), at once
// for 0. Valid is true while the stream holds the delivery and has kept
// it alive within the ack wait. Received.Attempt is JetStream's delivery
// count, Received.Key the herald-key header. Close stops pulling, returns
// what was on its way in and every delivery held and not settled at once
// (NAK: redelivered to the group's other members), and flushes the acks
// within its context.
//
// Per-key order: one stream delivers in stream order; messages of one key
// can be handled out of order when the group has several members, or
// after a nack or a redelivery (the redelivered message comes after later
// ones).
//
// # Failures
//
// After a broker restart or a network failure the client reconnects by
// itself (max_reconnects, reconnect_wait); Sends wait and resend, and
// streams ask again. While a stream cannot receive (the connection is
// down, the server stops answering its pull requests, a permission is
// refused) it reports it through StreamOptions.Status (an error wrapping
// herald.ErrSubscriptionLost, KindUnreachable) and reports nil once it
// receives again; the subscriber logs the outage once. The driver logs at
// debug and info level only. A consumer or stream deleted under a stream,
// or a connection closed for good (max_reconnects reached), breaks it:
// Receive returns the error, and the subscriber opens another stream,
// with its backoff, which creates the consumer again (a group's position
// goes with a deleted consumer: it starts again from the first retained
// message).
//
// Opening honours its context: a server that accepts connections and
// never answers holds it only until the context ends. Every error is a
// *herald.Error (herald/nats: <op> "<topic>": <cause>) whose Kind says
// what happened; every method called after Close fails with
// herald.ErrClosed.
//
// # Core NATS (mode=core)
//
// At most once: no stream, no durability, no redelivery by the server.
// Messages reach only the subscriptions that exist when they are
// published; while the connection is down, a stream reports it through
// Status (what is published meanwhile does not reach it) and reports nil
// once nats.go restored the subscription. Send writes the message; done
// is called after a flush (a PING and its PONG) shows the server read it,
// one flush for every message written meanwhile; when the connection
// broke or the deadline passed first, done gets herald.ErrOutcomeUnknown.
// Groups are queue groups (a group name cannot hold blanks); the streams
// of a subscription without a group join a queue group private to it. A
// stream hands out at most its window; what waits beyond it stays in
// nats.go's buffer, and beyond its limits is dropped (at most once). Ack
// and Nack only free the window. The JetStream options are refused in
// this mode.
//
// # Messages and headers
//
// Metadata travels as NATS headers, so the nats CLI shows it; the Herald
// key is the herald-key header; the ID is _watermill_message_uuid, and
// Nats-Msg-Id holds "<id> <subject>" for de-duplication (a message from
// another publisher whose only ID is its Nats-Msg-Id gets that as its
// ID). A metadata entry whose key is not a plain header token or whose
// value has CR, LF or other control characters, invalid UTF-8 or
// leading/trailing blanks travels as the header Herald-Enc-<base64url(key)>
// with a base64 value and is decoded on consume, so every entry
// round-trips. A message without an ID (published by the nats CLI or plain
// nats.go) gets "<stream>:<sequence>" on JetStream, stable across
// redeliveries, and a new ID on core NATS. Headers with several values
// are joined with ", ". Metadata named _watermill_message_uuid,
// Herald-Enc-* or anything in the server's Nats- namespace (any case:
// Nats-Msg-Id, Nats-Expected-*, Nats-Rollup, Nats-TTL, Nats-Schedule*...)
// is encoded as above, so it round-trips instead of steering the server:
// a consumed message's Nats-Rollup forwarded by DeadLetter would
// otherwise purge the subject (Herald's schedule-enabled streams allow
// roll-ups).
//
// # Options
//
// Connection (both modes):
//
//	mode             jetstream | core                          jetstream
//	client_id        connection name shown by the server       herald
//	                 (name is an older name)
//	connect_timeout  dial timeout                              5s
//	reconnect_wait   wait between reconnect attempts           2s
//	max_reconnects   attempts after a disconnect, -1 forever   -1
//	token            token authentication                      -
//	nkey             path of an nkey seed file                 -
//	creds            path of a .creds file (JWT + nkey)        -
//	tls              use TLS (implied by any tls_* option)     false
//	tls_ca           PEM file of CAs to verify the server      system roots
//	tls_cert         PEM client certificate (with tls_key)     -
//	tls_key          PEM private key of tls_cert               -
//	tls_insecure_skip_verify  skip verifying the server certificate (tests only;
//	                 tls_insecure is an older name)            false
//	tls_server_name  name to verify the certificate against    the host
//	prefetch         the consume window, read by the subscriber
//	                 (subscriber.WithWindow)                   1024 (core: 256)
//
// User and password go in the URL (nats://user:password@host); at most one
// of user:password, token, nkey and creds may be set. The names mean the
// same on every backend (docs/configuration.md); the older names (name,
// tls_insecure, deliver) are accepted until the next release, but not
// together with the new ones. The TLS options are read, and a failed
// handshake is explained, as on every backend (internal/tlsopt): the
// error names the certificate and the tls_ca it was checked against, or
// the client certificate the server wants, or TLS on one side only.
//
// JetStream only:
//
//	stream             one stream for every topic                per topic
//	subjects           subjects of that stream when created      the topics
//	provision          create streams and add subjects           true
//	storage            file | memory, for created streams        file
//	replicas           replicas of created streams: auto or 1-5  auto
//	                   (auto: 1 on a server outside a cluster,
//	                   min(3, servers known) in a cluster)
//	max_age            retention of created streams, 0 forever   168h
//	duplicates         de-duplication window of created streams  2m
//	ack_wait           redelivery after this long without ack    30s
//	                   or progress signal
//	max_deliver        deliveries per message, -1 unlimited      -1
//	backoff            the consumer's ack waits for successive   -
//	                   deliveries of a message neither acked nor
//	                   kept alive (its subscriber died), e.g.
//	                   1s,5s,30s
//	start              where a new group starts:               oldest
//	                   oldest | newest (deliver=all|new is an
//	                   older name); a private subscriber always
//	                   starts at newest
//	max_ack_pending    unacked messages of the group, all its    0 (1000)
//	                   members together; raised to a stream's
//	                   window when lower
//	inactive_threshold private consumers removed after idle      5m
//
// Options whose policy is now the publisher's or subscriber's are refused
// (a *herald.ConfigError naming the replacement): nak_delay (the
// subscriber's redelivery delay, given to each nack), publish_timeout
// (publisher.WithPublishTimeout), max_pending (publisher.WithAsyncWindow),
// close_timeout (the context of Close or Shutdown); window is not an
// option here (prefetch is the consume window).
//
// Stream settings apply when Herald creates a stream; existing streams are
// used as they are. With replicas=auto a stream created through a server
// that belongs to a cluster gets min(3, servers) replicas: with 3, an
// acknowledged publish is stored on two servers and the stream keeps
// working while one server is down; outside a cluster it gets 1. The
// servers' sync_interval decides when a stored message reaches the disk
// (docs/guarantees.md, "Durability"). Consumer settings are applied to the
// group's consumer each time a stream opens (the last one wins).
//
// # Names
//
// Stream and consumer names are derived from topics and groups with an
// injective encoding into the characters NATS allows in names (letters,
// digits, '-' and '_'): letters, digits and '-' stay, '.' becomes "__",
// any other byte, '_' included, becomes '_' and two hex digits. So topic
// orders.created gets stream orders__created, group eu_billing the
// consumer eu_5Fbilling, and on a shared stream the consumer of group
// billing for topic orders.created is billing_-orders__created. Two
// different topics never share a stream Herald creates and two different
// (group, topic) pairs never share a consumer. Names longer than 200
// bytes are cut and end with "_x" and a hash of the whole name.
//
// # TLS and authentication
//
// TLS is on with tls=true or any tls_* option (the servers are dialled as
// tls://). The server certificate is verified against tls_ca (else the
// system roots); tls_cert and tls_key give the client certificate a
// server with verify: true requires. A failure at connect is returned at
// once (herald.ErrDenied), naming what failed:
//
//	herald/nats: connect to tls://n1:4222: TLS: server certificate signed by unknown authority (tls_ca=/etc/herald/ca.pem did not sign it): ...
//	herald/nats: connect to tls://n1:4222: authentication failed for user "app" (check the password): nats: authorization violation
//
// Once connected, an authorization refused while reconnecting is retried
// (credentials restored on the server are picked up). Besides the
// topics' subjects, a JetStream user needs publish permission on
// $JS.API.> (streams, consumers and pull requests) and $JS.ACK.>, and
// subscribe permission on _INBOX.> (PubAcks and deliveries).
//
// # Escape hatch
//
// Topic.As and Subscription.As fill a **nats.Conn, and in JetStream mode
// a *jetstream.JetStream (publisher.Publisher.As and
// subscriber.Subscriber.As pass them on).
package nats
