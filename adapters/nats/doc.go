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
// topic (characters other than letters, digits, '-' and '_' become '_':
// orders.created -> orders_created) with file storage, limits retention
// and a max age of 7 days; with stream=NAME, every topic goes to that one
// stream and is added to its subjects on first use. A publisher or
// subscriber looks a topic's stream up once and remembers it (watermill-nats'
// AutoProvision looks it up on every publish); it looks again only if the
// stream stops answering. provision=false never creates or changes streams.
//
// Publishing: Publish(topic, msgs...) sends all the messages without
// waiting, then waits for every PubAck, so batches are fast (see
// BenchmarkNATS); it returns nil only when the stream has stored them all.
// Messages not acknowledged (a disconnect, a broker restart, a timeout) are
// sent again until publish_timeout; the message ID travels as Nats-Msg-Id,
// so the stream de-duplicates such resends (and any republish of the same
// message ID within the duplicates window, 2m by default; with one shared
// stream that includes the same ID published to two topics). Order within
// a call is kept unless a resend happens.
//
// Consuming: a group is a durable pull consumer named after the group (the
// group and topic with a shared stream); every Subscribe call, in any
// process, pulls from it, so they share the messages. A new group starts
// with every message the stream retains (deliver=new: only messages
// published after its creation). Without a group, a Watermill subscriber
// has a consumer of its own per topic, shared by its Subscribe calls,
// starting with messages published after the first Subscribe returned;
// it is deleted on Close, or by the server after inactive_threshold if the
// process dies. Subscribe returns once the consumer exists.
//
// A message is acked when its handler acks; a nack is a NAK, redelivered
// after nak_delay (or the backoff delays). While a handler runs the message
// is kept from redelivery (in-progress signals every ack_wait/2), so slow
// handlers do not get duplicates; messages of a process that dies are
// redelivered after ack_wait. When Subscribe's context ends or the
// subscriber closes, fetching stops, prefetched messages go back to the
// consumer at once and in-flight handlers may finish (on Close, for at most
// close_timeout) and be acked. Per-key order holds for a single Subscribe
// call of a group, until a message is nacked or redelivered.
//
// After a broker restart the client reconnects by itself (max_reconnects,
// reconnect_wait), Publish retries until publish_timeout, and pull
// consumers resume; a consumer deleted meanwhile is created again.
//
// # Core NATS (mode=core)
//
// At most once: no stream, no durability, no redelivery; a nack does
// nothing. Messages reach only the subscriptions that exist when they are
// published. Publish returns once the server has read the messages (a
// flush). Groups are queue groups; the Subscribe calls of a subscriber
// without a group join a queue group private to it. The publisher is
// watermill-nats' pkg/nats publisher with JetStream disabled; the
// subscriber is Herald's own (pkg/nats closes its output channel while a
// message callback may still send on it, a race that can panic).
//
// # Messages and headers
//
// Metadata travels as NATS headers, so the nats CLI shows it; the Herald
// key is the herald-key header; the ID is Nats-Msg-Id (and
// _watermill_message_uuid, which stock watermill-nats reads). A metadata
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
//	tls_insecure     skip verifying the server certificate     false
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
//	replicas           replicas of created streams (1-5)         1
//	max_age            retention of created streams, 0 forever   168h
//	duplicates         de-duplication window of created streams  2m
//	ack_wait           redelivery after this long without ack    30s
//	max_deliver        deliveries per message, -1 unlimited      -1
//	backoff            redelivery delays, e.g. 1s,5s,30s         -
//	nak_delay          delay of redelivery after a nack          0
//	deliver            where a new group starts: all | new       all
//	max_ack_pending    unacked messages per consumer, 0 server   0 (1000)
//	prefetch           messages buffered per Subscribe call      64
//	inactive_threshold private consumers removed after idle      5m
//	max_pending        outstanding asynchronous publishes        256
//
// Stream settings apply when Herald creates a stream; existing streams are
// used as they are. Consumer settings are applied to the group's consumer
// each time a subscriber starts (the last one wins).
//
// # Escape hatch
//
// The publisher and subscriber returned by the adapter have an
// As(target any) bool method: **nats.Conn, *jetstream.JetStream (JetStream
// mode), the Watermill publisher or subscriber (*message.Publisher,
// *message.Subscriber), and in core mode **wmnats.Publisher, watermill-nats'
// pkg/nats publisher.
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
