// Package nats is Herald's NATS adapter: JetStream by default (durable,
// at-least-once), core NATS on request (at-most-once). Import it for its
// side effect, which registers the "nats" scheme:
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
// appear in errors, logs or Config.String.
//
// # JetStream (mode=jetstream, the default)
//
// Streams: the stream that already captures a topic's subject is used,
// whatever its name. When none does, Herald creates one named after the
// topic with file storage, limits retention and a max age of 7 days; with stream=NAME, every topic goes to that one
// stream and is added to its subjects on first use. A publisher or
// subscriber looks a topic's stream up once and remembers it (watermill-nats'
// AutoProvision looks it up on every publish); it looks again only if the
// stream stops answering. provision=false never creates or changes streams.
//
// Publishing: Publish(topic, msgs...) sends all the messages without
// waiting, then waits for every PubAck, so batches are fast (see
// BenchmarkNATS); it returns nil only when the stream has stored them all.
// The publisher implements adapters.ContextPublisher: PublishContext
// honours its context (the publisher package uses it; Publish uses the
// first message's context), without a goroutine per call and without
// changing the messages. Messages not acknowledged (a disconnect, a broker
// restart, a timeout) are sent again; while the server is unreachable the
// publish waits for it, until its context ends or publish_timeout passed,
// then fails with an error wrapping herald.ErrUnreachable and the
// context's error. Errors waiting cannot fix (no stream and
// provision=false, a message over the server's limit, a refused
// permission) return at once. The stream de-duplicates on the Nats-Msg-Id
// header, which holds the message ID and the subject ("<id> <subject>"):
// a resend, or a republish of the same message to the same topic within
// the duplicates window (2m by default), is stored once, while the same
// message published to two topics of one shared stream (a dead-letter
// copy to {topic}.dlq, for instance) is stored under each. A PubAck
// marked Duplicate therefore means the message is stored under that
// topic, and counts as success. Order within a call is kept unless a
// resend happens.
//
// Consuming: a group is a durable pull consumer named after the group (the
// group and topic with a shared stream); every Subscribe call, in any
// process, pulls from it, so they share the messages. Subscribe honours
// its context while it creates the stream and consumer, and Close
// interrupts it. A new group starts
// with every message the stream retains (deliver=new: only messages
// published after its creation). Without a group, a Watermill subscriber
// has a consumer of its own per topic, shared by its Subscribe calls,
// starting with messages published after the first Subscribe returned;
// it is deleted on Close, or by the server after inactive_threshold if the
// process dies. Subscribe returns once the consumer exists.
//
// A message is acked when its handler acks; a nack is a NAK, redelivered
// after the delay the handler or middleware asked for
// (adapters.SetNackDelay, herald.RetryAfter; JetStream's NakWithDelay),
// else after nak_delay (or the backoff delays). While a handler runs the message
// is kept from redelivery (in-progress signals every ack_wait/2), so slow
// handlers do not get duplicates; messages of a process that dies are
// redelivered after ack_wait. When Subscribe's context ends or the
// subscriber closes, fetching stops, prefetched messages go back to the
// consumer at once and in-flight handlers may finish (on Close, for at most
// close_timeout) and be acked. Per-key order holds for a single Subscribe
// call of a group, until a message is nacked or redelivered.
//
// # The fast paths: Stream and PublishAsync
//
// The subscriber implements adapters.StreamSubscriber (the subscriber
// package's windowed consume): Stream(ctx, topic, window) is one pull
// subscription (PullMaxMessages window) on the same consumer as Subscribe,
// whose max_ack_pending is raised to window when lower. Up to window
// deliveries are handed out before any is settled; Ack is JetStream's
// fire-and-forget ack (no round trip per message), Nack a NAK with the
// delay given (0: nak_delay or the backoff step). Deliveries unsettled
// for half the ack_wait are marked in progress by one ticker per stream
// (no timer per message); the messages nats.go buffered ahead (up to
// window more) are not, so handlers that keep the whole window busy for
// longer than ack_wait get some of those redelivered: raise ack_wait for
// such handlers. Close stops pulling, NAKs what was received and
// not settled (redelivered at once to the group's other members) and
// flushes the connection. Delivery.Attempt is JetStream's delivery count,
// Delivery.Key the herald-key header. A broken stream is reported and
// re-created like a Subscribe call; if the connection is closed for good,
// Receive returns an error wrapping herald.ErrSubscriptionLost.
//
// The publisher implements adapters.AsyncPublisher: PublishAsync sends
// with JetStream's asynchronous publish; at most max_pending messages are
// unacknowledged (the call blocks while the window is full, until its
// context ends) and one goroutine per publisher waits for the PubAcks in
// order and calls done. When the connection drops, nats.go fails every
// pending PubAck with ErrDisconnected: Herald sends those messages again
// (same Nats-Msg-Id, so a message the server had stored is not stored
// twice) once the connection is back, until publish_timeout passed since
// the message was taken; then done gets an error wrapping
// herald.ErrUnreachable. Resending rather than reporting keeps the
// contract of a synchronous publish (wait for an unreachable broker until
// the timeout) and loses nothing. A message the server refuses (over the
// size limit, no stream) fails in its own done; Close waits up to
// close_timeout for the acknowledgements, then done gets herald.ErrClosed.
// Concurrent PublishContext calls share the connection the same way: each
// waits only for its own PubAcks.
//
// In core mode the subscriber implements Stream too, at most once: Ack
// and Nack only free the window.
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
// (group, topic) pairs never share a consumer, whatever separators they
// hold. A consumer is named after the group alone only on a stream named
// after its topic that captures that one subject. Names longer than 200
// bytes are cut and end with "_x" and a hash of the whole name.
//
// # Failures
//
// After a broker restart the client reconnects by itself (max_reconnects,
// reconnect_wait), publishes wait and resend, and pull consumers resume;
// a consumer or stream deleted meanwhile is created again. Nothing of this
// is silent: the adapter logs through the logger of the Open context
// (adapters.Logger: the publisher's or subscriber's WithLogger, else
// slog.Default) a lost connection at warn level with its cause, once per
// outage, and the reconnect at info level; asynchronous errors such as a
// permission violation at warn level. A subscription that stops receiving
// (connection lost, consumer or stream deleted, permission refused,
// re-creating the consumer failing) is logged at warn level once per
// outage and reported with adapters.ReportStatus on its Subscribe context
// (an error wrapping herald.ErrSubscriptionLost and the cause); the
// adapter creates the consumer again with delays growing from 100ms to
// 30s, and reports the recovery with nil (and an info line). A refused
// authorization while reconnecting is retried like any other failure. If
// the client gives up reconnecting (max_reconnects reached), the loss is
// reported and the subscription's channel closes.
//
// Opening honours its context: a server that accepts connections and never
// answers holds Open only until the context ends. An unreachable server
// at Open is an error wrapping herald.ErrUnreachable.
//
// Errors read herald/nats: <op> "<topic>": <cause>, for instance
// herald/nats: publish to "orders": ..., and every method called after
// Close returns an error wrapping herald.ErrClosed.
//
// # Core NATS (mode=core)
//
// At most once: no stream, no durability, no redelivery; a nack, with or
// without a delay (adapters.NackDelay), does nothing but move on to the
// next message: the message is gone. Messages reach only the subscriptions
// that exist when they are published; while the connection is down, a
// subscription is reported lost (what is published meanwhile does not
// reach it) and reported again once nats.go restored it. Publish returns
// once the server has read the messages (a flush); while the connection
// is down it waits for it until its context ends or publish_timeout
// passed, then fails with herald.ErrUnreachable; messages written just
// before a connection broke can be lost. Groups are queue groups (a group
// name cannot hold blanks); the Subscribe calls of a subscriber without a
// group join a queue group private to it. Publisher and subscriber are
// Herald's own over nats.go, with Herald's header mapping (watermill-nats'
// pkg/nats subscriber closes its output channel while a message callback
// may still send on it, a race that can panic).
//
// # Messages and headers
//
// Metadata travels as NATS headers, so the nats CLI shows it; the Herald
// key is the herald-key header; the ID is _watermill_message_uuid (which
// stock watermill-nats reads), and Nats-Msg-Id holds "<id> <subject>"
// for de-duplication (a message from another publisher whose only ID is
// its Nats-Msg-Id gets that as its ID). A metadata
// entry whose key is not a plain header token or whose value has CR, LF or
// other control characters, invalid UTF-8 or leading/trailing blanks travels
// as the header Herald-Enc-<base64url(key)> with a base64 value and is
// decoded on consume, so every entry round-trips. A message without an ID
// (published by the nats CLI or plain nats.go) gets "<stream>:<sequence>"
// on JetStream, stable across redeliveries, and a new ID on core NATS.
// Headers with several values are joined with ", ". Metadata named
// Nats-Msg-Id, Nats-Expected-*, _watermill_message_uuid or Herald-Enc-* is
// encoded as above, so it round-trips instead of steering the server;
// other Nats-* headers (Nats-TTL, for instance) reach the server as set.
//
// # Options
//
// Connection (both modes):
//
//	mode             jetstream | core                          jetstream
//	name             connection name shown by the server       herald
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
//	publish_timeout  bound on a Publish call, retries included 30s
//	close_timeout    Close waits this long for handlers        5s
//
// User and password go in the URL (nats://user:password@host); at most one
// of user:password, token, nkey and creds may be set.
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
//	max_deliver        deliveries per message, -1 unlimited      -1
//	backoff            redelivery delays, e.g. 1s,5s,30s         -
//	nak_delay          delay of redelivery after a nack          0
//	deliver            where a new group starts: all | new       all
//	max_ack_pending    unacked messages per consumer, 0 server   0 (1000)
//	prefetch           messages buffered per subscription        256
//	                   (and a Stream's window by default)
//	inactive_threshold private consumers removed after idle      5m
//	max_pending        unacknowledged publishes (PublishAsync    256
//	                   window; PubAcks pending per connection)
//
// Stream settings apply when Herald creates a stream; existing streams are
// used as they are. With replicas=auto a stream created through a server
// that belongs to a cluster (nats://n1,n2,n3, or one host whose cluster
// advertises the others) gets min(3, servers) replicas: with 3, an
// acknowledged publish is stored on two servers and the stream keeps
// working while one server is down; outside a cluster it gets 1. The
// servers' sync_interval decides when a stored message reaches the disk
// (docs/guarantees.md, "Durability"). Consumer settings are applied to the group's consumer
// each time a subscriber starts (the last one wins).
//
// # TLS and authentication
//
// TLS is on with tls=true or any tls_* option (the servers are dialled as
// tls://). The server certificate is verified against tls_ca (else the
// system roots); tls_cert and tls_key give the client certificate a
// server with verify: true requires. One credential at most: user and
// password in the URL, token, nkey (a seed file) or creds (a .creds
// file, JWT and seed):
//
//	nats://app:secret@n1:4222,n2:4222?tls_ca=/etc/herald/ca.pem
//	nats://n1:4222?nkey=/etc/herald/app.nk&tls_ca=/etc/herald/ca.pem&tls_cert=/etc/herald/client.pem&tls_key=/etc/herald/client-key.pem
//
// A failure at connect is returned at once, naming what failed (not
// herald.ErrUnreachable):
//
//	herald/nats: connect to tls://n1:4222: TLS: server certificate signed by unknown authority (tls_ca=/etc/herald/ca.pem did not sign it): ...
//	herald/nats: connect to tls://n1:4222: TLS: the server refused the handshake (no client certificate given: the server probably requires one (tls_cert and tls_key)): ...
//	herald/nats: connect to tls://n1:4222: authentication failed for user "app" (check the password): nats: authorization violation
//	herald/nats: connect to tls://n1:4222: authentication failed for the nkey in nkey=/etc/herald/app.nk (the server does not know its public key): ...
//
// Once connected, an authorization refused while reconnecting is retried
// (credentials restored on the server are picked up). A publish outside
// the user's publish permissions gets no PubAck, only an asynchronous
// error from the server: Herald matches it to the messages waiting for
// that subject, so Publish and PublishAsync fail at once with
// "permission denied to publish to "orders.created" for user "ro" (...)"
// instead of waiting for publish_timeout. Besides the topics' subjects, a
// JetStream user needs publish permission on $JS.API.> (streams and
// consumers) and subscribe permission on _INBOX.> (acknowledgements).
// Passwords, tokens, nkey seeds and key material never appear in errors
// or logs. adapters/securetest proves this against servers with TLS,
// client certificates, users with permissions and an nkey user; see
// docs/security.md.
//
// # Escape hatch
//
// The publisher and subscriber returned by the adapter have an
// As(target any) bool method filling a pointer to an exported type:
// **nats.Conn, *jetstream.JetStream (JetStream mode), the Watermill
// publisher or subscriber (*message.Publisher, *message.Subscriber), and
// in core mode **wmnats.Publisher, watermill-nats' pkg/nats publisher on
// the same connection. Their concrete types are internal.
//
// # Why not watermill-nats for JetStream
//
// Its pkg/jetstream subscriber makes a separate consumer per Subscribe call
// without a group (so they do not compete), uses a work-queue stream for
// groups (so two groups cannot each get every message), names streams after
// topics (a dotted topic is not a valid stream name), drops the ack of a
// handler still running when Subscribe's context ends, and leaves
// prefetched messages unacked on Close (redelivered only after ack_wait).
// Its publisher waits for each PubAck in turn. Herald's JetStream code is a
// small layer over nats.go's jetstream API instead, reusing watermill-nats'
// Marshaler and Unmarshaler interfaces and header conventions.
package nats
