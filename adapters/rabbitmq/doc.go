// Package rabbitmq registers the "amqp" and "amqps" schemes: RabbitMQ
// through its official Go client, github.com/rabbitmq/amqp091-go,
// implementing adapters.Driver.
//
//	import _ "github.com/heraldkit/herald/adapters/rabbitmq"
//
//	amqp://guest:guest@localhost:5672/?group=payments
//	amqps://app:secret@rabbit.example.com/orders?tls_ca=/etc/ssl/ca.pem
//
// # Why amqp091-go directly
//
// Watermill's AMQP adapter (watermill-amqp v3) waits for each publisher
// confirm before it sends the next message, holds one message in flight
// per consumer, returns from Subscribe before the consumer is
// registered, can requeue at Close a message its handler acked, and
// replaces its connection without synchronisation on reconnect
// (ThreeDotsLabs/watermill#693). Measured on one 2-core machine, 1 KiB
// messages, at-least-once end to end: watermill-amqp with confirms, a
// pool of 4 channels and prefetch 256 ran 1.5k msg/s; amqp091-go with
// 256 deferred confirms outstanding and prefetch 256, 13k msg/s. This
// driver is that second shape: deferred confirms, any number outstanding
// per channel, and a prefetch window with coalesced acks. Watermill's
// message type is kept (herald.Message), and the wire format is
// watermill-amqp's, so both interoperate (see Headers).
//
// # URL
//
// One host or more is required (the port defaults to 5672, 5671 for
// amqps). Several hosts, amqp://u:p@rmq1,rmq2,rmq3/, are the nodes of one
// cluster: a connection goes to the first that answers, in the URL's
// order; when it is lost, the reconnect tries the next hosts first (with
// amqps each node's certificate is checked against its own host name
// unless tls_server_name is set). Without userinfo the credentials are
// guest/guest. The path is the virtual host, following the AMQP URI
// rules: no path or "/" is the default vhost "/", "/payments" is
// "payments", and "/%2F" is "/" again. The credentials travel to the
// client outside of any URI, so no error or log line can contain the
// password.
//
// # Options
//
//	pool             publish channels of a publisher (1..1024, default 2); a topic and key
//	                 always use the same one (see Publishing)
//	confirm          wait for publisher confirms (bool, default true); false: a message is
//	                 done once written, without knowing whether the broker stored it
//	queue_type       group queue type: auto, classic or quorum (default auto: quorum when the URL
//	                 names several hosts, classic with one; private queues are always classic)
//	heartbeat        AMQP heartbeat interval (1s..10m, default 10s)
//	connect_timeout  TCP connect and handshake timeout (100ms..10m, default 10s; dial_timeout
//	                 is an older name)
//	reconnect_max    longest wait between reconnect attempts (100ms..10m, default 5s)
//	client_id        connection name shown by the broker (default "herald"; connection_name is
//	                 an older name)
//	tls              amqps: true (the default: amqps:// is TLS); false is an error, and so is
//	                 true with amqp://
//	tls_ca           amqps: PEM file of CA certificates (default: the system pool)
//	tls_cert         amqps: PEM client certificate file, with tls_key
//	tls_key          amqps: PEM client private key file, with tls_cert
//	tls_server_name  amqps: name to verify the server certificate against (default: the host)
//	tls_insecure_skip_verify  amqps: do not verify the server certificate (bool, default false; tests
//	                 only; tls_skip_verify is an older name)
//
// prefetch, the consume window, is read by the subscriber package for
// every backend (adapters.SplitCommon; subscriber.WithWindow): it is the
// AMQP prefetch count of each stream (at most 65535; default 256). Every
// other key is refused as unknown. "window", this driver's old publish
// window, is refused with the names that replace it (the publisher's
// WithAsyncWindow bounds what is in flight; the driver has no window and
// no publish timeout of its own: a Send's context carries its deadline).
// The TLS options are errors with the amqp scheme. The names mean the
// same on every backend (docs/configuration.md); the older names
// (dial_timeout, connection_name, tls_skip_verify) are accepted until the
// next release, but not together with the new ones. The TLS options are
// read, and a failed handshake is explained, as on every backend
// (internal/tlsopt): the error names the certificate and the tls_ca it
// was checked against, or the client certificate the broker wants, or
// TLS on one side only (amqps:// to a plaintext port, amqp:// to a TLS
// port).
//
// # Capabilities
//
//	Durable         yes: a group's queue is durable and messages are persistent
//	Groups          yes: a group is one queue; its subscribers compete for its messages
//	Redelivery      RedeliverBroker: a nack requeues the message at the broker
//	NackDelay       no: RabbitMQ cannot delay a requeue; the subscriber package holds a
//	                failed message for its delay, then nacks it
//	CountsAttempts  quorum queues only (queue_type=quorum, or auto with several hosts, with
//	                a group): Attempt is 1 + x-delivery-count, kept by the queue across
//	                consumers and restarts. A classic queue only flags a redelivery (the
//	                redelivered bit, metadata RedeliveredHeader): Attempt is 0
//	Order           OrderQueue (see Order)
//	MaxMessageSize  0 (unknown): the broker's max_message_size (128 MiB by default on 3.x,
//	                16 MiB on 4.x) is not told to clients; a refusal is reported as
//	                KindTooLarge and larger payloads are refused before sending from then on
//	DefaultWindow   256
//	Delay           Max 2^24-1 s (about 194 days), Precision 3 s, Durable, not Ordered
//	                for equal times; none with confirm=false (see Delayed delivery)
//
// # Topology
//
//   - A topic is a durable fanout exchange of the same name, declared by
//     the first send or subscription. Routing keys are not used. A topic
//     must be 1 to 255 bytes of UTF-8 and must not start with "amq."
//     (RabbitMQ reserves those names); other topics are refused before
//     anything is sent (KindInvalid).
//   - A subscriber with a group consumes the durable queue
//     "<topic>.<group>", bound to that exchange, where a "." in the group
//     is written "%2E" and a "%" is written "%25" (group "eu.billing" of
//     topic "orders" is "orders.eu%2Ebilling"). The escaped group has no
//     ".", so the last "." of the name separates topic and group: two
//     different (topic, group) pairs never share a queue. Every subscriber
//     of the group, in any process, consumes the same queue, so they
//     share the messages; each group has its own queue and gets every
//     message. The queue, and the persistent messages in it, survive a
//     broker restart and subscribers coming and going. Prepare declares
//     it ahead of the first subscriber.
//   - A subscriber without a group gets its own exclusive queue
//     "<topic>.%private-<id>", where id is unique to the subscription: the
//     broker deletes it when the subscription closes or its connection
//     drops (it is declared again on reconnect; messages published while
//     it was gone are not delivered to it).
//   - A queue name longer than RabbitMQ's 255 bytes keeps its first bytes
//     (cut on a character boundary) and ends with ".%h" and 32 hex digits
//     of the SHA-256 of the full name, so it stays distinct.
//   - Several streams of one topic on one subscription (Open called
//     again) are several AMQP consumers of the same queue: they compete.
//
// Open returns only after the exchange and queue are declared and bound
// and the consumer is registered, so a message published after it
// returned reaches that subscriber.
//
// # Publishing
//
// Messages are persistent (delivery mode 2). Send writes a message on
// one of the "pool" channels of its connection and returns; the
// channel's confirm listener (one goroutine per channel, not one per
// message) calls done once the broker confirmed it, which for a durable
// queue means it is on disk. Any number of messages may wait for their
// confirms: the publisher package's window is the only bound. A message
// goes on the channel its (topic, key) hashes to (FNV-1a of both;
// messages without a key are one key), so messages sent on one Topic
// in one order to one topic with one key reach the broker in that order
// on one channel, and their done calls come in that order. Keys rather
// than whole topics are spread so that a pool still carries one topic's
// traffic over several channels; with 16 concurrent publishers 1, 2 and
// 4 channels measured 8.8k-9.8k msg/s (8 channels: 5.8k), so pinning
// costs no throughput.
//
// Send's context is the message's deadline: Send waits for the
// connection (while the broker is unreachable), the channel's opening
// and the exchange's declaration within it, and returns KindUnreachable,
// without taking the message, when it ends first. Once written, the
// confirm is awaited within the same context:
//
//   - confirmed: done(nil);
//   - the connection lost before the confirm (a cluster node killed, a
//     network cut): written again, in write order, once the connection
//     is back, within the context, so the application does not see the
//     failover; the broker may then hold two copies (same message ID);
//   - written but no confirm within the context (including a connection
//     that did not come back in time): KindOutcomeUnknown (the broker may
//     have stored it);
//   - nacked by the broker: sent again, on a new channel (a RabbitMQ 3.10
//     channel that published to a leaderless quorum queue went on nacking
//     after the election; a new one works), after a backoff of 20 ms
//     doubling, up to 6 times (about 1.3 s: a quorum queue nacks while it
//     elects a leader), within the context; a nack that lasts (a queue at
//     its length limit with overflow=reject-publish) fails that message
//     alone, saying the broker refused it (nothing was stored). A message
//     sent again can land after later messages of its key that were
//     confirmed meanwhile;
//   - the channel closed over this message (over max_message_size):
//     KindTooLarge; over a refused permission: KindDenied; over another
//     message or a deleted exchange: KindOutcomeUnknown.
//
// Before writing, Send refuses at once, for that message alone, a
// message ID or header name over AMQP's 255 bytes (KindInvalid) and
// headers that do not fit in one frame of the negotiated frame_max
// (131072 bytes by default; KindTooLarge: carry large data in the
// payload), which the broker would answer by closing the whole
// connection. A message published to a topic no queue is bound to is
// dropped by the broker (and confirmed): Prepare a group's queue if it
// must keep messages published before the group's first subscriber.
//
// A write to a black-holed broker can block in the client until the
// kernel's send buffer drains or the heartbeat declares the connection
// dead (amqp091-go's writes take no context).
//
// Close stops taking messages, waits within its context for the confirms
// of those taken (nacked ones are still sent again), then calls done with
// KindClosed for the rest and closes the connection.
//
// # Delayed delivery
//
// Topic.Send with SendOptions.At (publisher.PublishAt, PublishAfter) works on RabbitMQ 3.10
// and later without a plugin, through delay tiers shared by every topic of
// the vhost: 24 durable quorum queues "herald.delay.tier.<n>.queue"
// (n = 0..23), whose messages all expire after 2^n seconds
// (x-message-ttl: one TTL per queue, so the head always expires first and
// nothing waits behind a longer delay), and are then dead-lettered with
// x-dead-letter-strategy=at-least-once (the quorum queue re-publishes
// them with confirms and keeps them until the next tier took them; this
// needs x-overflow=reject-publish) to the topic exchange
// "herald.delay.tier.<n-1>", and below tier 0 to "herald.delay.deliver".
// A delayed message is published, with publisher confirms, to
// "herald.delay.tier.23" with the routing key "<bit 23>.….<bit 0>.<topic>",
// its delay in seconds (rounded up) in binary: each tier's exchange routes
// it to its queue when its bit is 1 and on to the next tier's exchange
// when it is 0, so it waits in the tiers of its set bits, highest first,
// and the delivery exchange routes it (binding "*.….*.<topic>", declared
// with the topic's first delayed message) to the topic's exchange, and so
// to every group queue bound then. done gets its confirm: nil once a
// tier's quorum queue stored it, so it survives a broker restart. A
// topic exchange deleted and declared again loses that binding with its
// queue bindings; a subscriber binds it again (where the vhost has the
// tiers) each time it declares the exchange, as it binds its queue, and
// delayed messages due while the binding was gone are lost like plain
// messages published then.
//
// So: Max 2^24-1 seconds; never before its time; late by up to the
// rounding (1 s) plus one dead-lettering per set bit and the queue's
// expiry (Precision 3 s, the conformance suite's bound). Messages delayed
// by the same number of seconds, sent in order on one key, take the same
// tiers in order, but two messages for one delivery time sent a moment
// apart may round to different delays and tiers, so equal times are not
// Ordered. The delivered message is the one sent; the dead-lettering
// headers RabbitMQ adds on the way (x-death, x-first-death-*,
// x-last-death-*) are not passed on. A topic with a "*" or "#" word, or
// longer than 207 bytes (the routing key holds 48 bytes of bits), cannot
// be delayed (KindInvalid); names beginning "herald.delay." are the
// tiers', and a topic so named is refused (KindInvalid). Without publisher confirms (confirm=false) there is no delayed
// delivery (Delay.Max 0).
//
// Newer servers offer more: RabbitMQ 4.3 adds delayed retry of returned
// messages on quorum queues (x-delayed-retry-type/min/max), and 4.4 lets
// quorum queues delay a message natively until a delivery time it
// carries (the x-opt-delivery-time annotation), which would replace the
// tiers with one publish and per-message precision; the
// rabbitmq_delayed_message_exchange plugin keeps its messages in one
// non-replicated copy per node and is no longer maintained, so Herald does
// not use it.
//
// # Consuming
//
// Open starts one AMQP consumer on its own channel with prefetch =
// StreamOptions.Window (at most 65535), so the broker keeps up to that
// many deliveries unacknowledged; they are handed out as they arrive.
// Received.Key is the herald-key header; Received.Attempt is described
// under Capabilities.
//
// Acks go out promptly and never wait behind an unsettled delivery: an
// ack that extends the contiguous run of settled delivery tags from the
// lowest one is coalesced into one multiple-ack for that run; an ack
// above a delivery still unsettled is sent alone. Both go out within
// 2 ms (at once when an eighth of the window is waiting). So one slow
// handler or a hot key holds its own deliveries only, and the broker
// refills the rest of the window. A nack requeues its delivery alone, at
// once. A multiple-ack
// never names a tag already acked or nacked alone (the broker would
// close the channel).
//
// Close sends every settlement made before it, then closes the channel:
// the broker requeues, at once, only the deliveries not settled
// (including those prefetched but not yet received). Settling after
// Close does nothing.
//
// # Order
//
// Messages sent with one key from one Topic reach the queue in send
// order (see Publishing), and one consumer receives a queue's messages
// in queue order. Across a nack (measured on RabbitMQ 3.10,
// TestStreamNackOrder):
//
//   - a classic queue requeues the nacked message at its place and
//     delivers it again after the deliveries the stream holds already:
//     with a window of 1 and one consumer it is handled again before
//     every later message (order kept); with a larger window, up to
//     window-1 later messages delivered before the nack came back to the
//     broker come first;
//   - a quorum queue puts the nacked message behind every message it
//     holds: it comes back after them, whatever the window;
//   - with several consumers (several streams or processes in a group)
//     there is no order between them.
//
// Through the subscriber package a failed message is held for its
// redelivery delay before it is nacked (NackDelay is false), and the
// later messages of its key are handled meanwhile: there, a failed
// message comes back after them on either queue type.
//
// # Headers and properties
//
// Every metadata entry is an AMQP header, herald.KeyHeader ("herald-key")
// included, so rabbitmqadmin, the management UI and amqp-tools show them.
// The message ID is the AMQP message_id property and the
// "_watermill_message_uuid" header (what watermill-amqp reads).
//
// The standard AMQP properties are mapped both ways, so that other AMQP
// clients (pika, amqp091-go, Spring AMQP) read Herald's as native
// properties and Herald reads theirs:
//
//	property          metadata entry                          written as
//	content_type      herald.ContentTypeHeader (content-type) property and header
//	content_encoding  ContentEncodingHeader (content-encoding) property and header
//	correlation_id    herald-correlation-id (adapters.CorrelationHeader,
//	                  middleware.CorrelationIDHeader)         property and header
//	reply_to          herald-reply-to (adapters.ReplyToHeader) property and header
//	message_id        the message ID                          property (and the ID header)
//	type              herald.Properties.Type on publish;      property only
//	                  TypeHeader (amqp-type) on consume
//	expiration        herald.Properties.TTL (rounded up to    property only
//	                  ms) on publish; ExpirationHeader
//	                  (amqp-expiration, ms) on consume
//	timestamp         herald.Properties.Time on publish (the  property only
//	                  publish time without); herald.Delivery.Time on consume
//
// The header copies are kept for watermill-amqp consumers, which read
// headers only. On consume a property wins over a header of the same
// name. TypeHeader and ExpirationHeader are reports: published again they
// are plain headers, so a dead-letter copy of a consumed message does not
// expire in the dead-letter queue (RabbitMQ drops expiration when it
// dead-letters, too) and a foreign header named like them is forwarded
// as it came. The properties are set with publisher.PublishWith (AMQP
// keeps whole seconds of the timestamp). A TTL over 2^32-1 ms, a property
// over 255 bytes, or a TTL on a delayed publish (the delay tiers hold a
// message by TTL) is a KindInvalid error at Send.
//
// A message published by another client is consumed as well: its ID is
// the ID header, else message_id, else a digest: "sha256:" and 32 hex
// digits of the SHA-256 of its exchange, routing key, properties
// (content_type, content_encoding, correlation_id, reply_to, type,
// timestamp, app_id, user_id, priority: not expiration), headers (sorted,
// without the x- ones the broker adds or changes on a redelivery, such as
// x-delivery-count and x-death) and body. The digest is the same on every
// redelivery, so ID-based de-duplication (an inbox) works for foreign
// messages; two identical foreign messages (same exchange, routing key,
// properties, headers and body) share it. Non-string header values become strings. A
// redelivered message has RedeliveredHeader set to "true".
//
// Reserved names: a metadata entry named "_watermill_message_uuid" or
// starting with "Herald-Enc-" is escaped as NATS does (header
// Herald-Enc-<base64url(key)>, value base64) and comes back exactly; it
// never replaces the ID. RedeliveredHeader is not sent: it describes a
// delivery, and a forwarded copy (DeadLetter's) was not redelivered.
//
// # Reconnecting
//
// Each Topic and Subscription has one connection, redialled with
// exponential backoff (100ms growing to "reconnect_max", with jitter)
// after the broker or the network went away. The loss and the
// reconnection are logged at info level to Env.Logger (the publisher and
// subscriber packages log an outage once, at warn, from the errors and
// statuses they are given); failed attempts at debug level.
//
// A stream whose channel, consumer or connection is lost (a deleted
// queue makes the broker cancel the consumer) registers a new consumer
// itself, declaring its queue again, with backoff (50 ms to 1 s), and
// reports through StreamOptions.Status after every failed attempt: an
// error wrapping herald.ErrSubscriptionLost and the cause
// (KindUnreachable while the connection is down, KindDenied for a
// refused permission), then nil once it receives again. The broker
// requeues the deliveries of the lost channel: Valid reports false for
// them and settling them does nothing. A deleted group queue is
// declared again (messages published while it was gone are lost).
//
// # Errors
//
// Every error is a *herald.Error (match the kind with errors.Is against
// herald.ErrUnreachable, ErrClosed, ErrDenied, ErrTooLarge, ErrInvalid,
// ErrOutcomeUnknown) reading "herald/amqp: <operation> "<topic>":
// <cause>" (herald/amqps with TLS), or "herald/amqp: connect to <host>
// (vhost "<v>"): <cause>" when opening; the cause wraps the client's
// error. It names the likely cause: a TLS port dialled with amqp://
// ("the server expects TLS on this port"), a plain port dialled with
// amqps://, refused credentials or certificate, a missing vhost, a
// refused permission (KindDenied for those four), a queue declared
// before with other arguments (KindInvalid: is queue_type the same for
// every subscriber of the group?).
//
// # TLS and authentication
//
// amqps:// connects with TLS (port 5671 by default) and verifies the
// server certificate against tls_ca (else the system pool) for the host,
// or tls_server_name; tls_cert and tls_key give a client certificate, for
// a listener with ssl_options.verify = verify_peer. User and password come
// from the URL (SASL PLAIN, inside TLS with amqps; guest:guest without
// them, which RabbitMQ accepts only from localhost), the vhost from the
// path:
//
//	amqps://app:secret@rabbit:5671/orders?tls_ca=/etc/herald/ca.pem&tls_cert=/etc/herald/client.pem&tls_key=/etc/herald/client-key.pem
//
// A certificate or credential failure at connect is returned at once,
// naming what failed; RabbitMQ itself answers a wrong password only
// after about 3 s (a deliberate delay). ACCESS_REFUSED names the user
// and vhost: publishing needs configure (declare) and write on the
// exchange named after the topic; subscribing configure on the queue,
// write on the queue and read on the exchange (bind), read on the queue
// (consume). Go's TLS client sends a client certificate only if a CA the
// server names in its request signed it. Passwords and key material
// never appear in errors or logs (adapters/securetest proves this
// against a private node; see docs/security.md).
//
// # Queue type
//
// A classic queue lives on one node: in a cluster, losing that node stops
// its consumers and takes its messages away until the node is back (and
// loses them with its disk); classic mirrored queues, the old remedy, are
// gone in RabbitMQ 4. A quorum queue is replicated (Raft) to the cluster's
// nodes, confirms a publish once a majority has written it to disk, and
// keeps serving while a minority of its nodes is down. So group queues
// are quorum queues when the URL names several hosts (a cluster), which is
// the default queue_type=auto.
//
// With one host the default stays classic: there is nothing to replicate
// to (a confirmed persistent message is on disk either way); the type of
// an existing queue cannot change (declaring it with another type fails
// with PRECONDITION_FAILED), so groups that already have classic queues
// keep working after an upgrade; and classic queues have no delivery
// limit (RabbitMQ 4 quorum queues drop a message after 20 redeliveries
// by default). Behind a load balancer (one host name for a cluster) set
// queue_type=quorum. To move an existing group to quorum, drain and
// delete its queue (rabbitmqctl delete_queue) and let the subscriber
// declare it again. Every subscriber of a group must ask for the same
// type.
//
// # Escape hatch
//
// Topic.As and Subscription.As (publisher.Publisher.As and
// subscriber.Subscriber.As) support one target:
//
//	**amqp091.Connection  (github.com/rabbitmq/amqp091-go) the current connection;
//	                      false while reconnecting or after Close; do not close it
//
// As never dials.
package rabbitmq
