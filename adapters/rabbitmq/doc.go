// Package rabbitmq registers the "amqp" and "amqps" schemes: RabbitMQ
// through watermill-amqp (github.com/ThreeDotsLabs/watermill-amqp/v3) and
// its client, github.com/rabbitmq/amqp091-go.
//
//	import _ "github.com/heraldkit/herald/adapters/rabbitmq"
//
//	amqp://guest:guest@localhost:5672/?group=payments
//	amqps://app:secret@rabbit.example.com/orders?tls_ca=/etc/ssl/ca.pem
//
// # URL
//
// One host or more is required (the port defaults to 5672, 5671 for
// amqps). Several hosts, amqp://u:p@rmq1,rmq2,rmq3/, are the nodes of one
// cluster: a connection goes to the first that answers, in the URL's
// order; when it is lost, the reconnect tries the next hosts first, so a
// publisher or subscriber moves to another node without the application
// doing anything (with amqps each node's certificate is checked against
// its own host name unless tls_server_name is set). Without userinfo the credentials
// are guest/guest. The path is the virtual host, following the AMQP URI
// rules: no path or "/" is the default vhost "/", "/payments" is
// "payments", and "/%2F" is "/" again. The credentials travel to the
// client outside of any URI, so no error or log line can contain the
// password.
//
// # Topology
//
//   - A topic is a durable fanout exchange of the same name, declared by
//     the first Publish or Subscribe. Routing keys are not used. A topic
//     must be 1 to 255 bytes of UTF-8 and must not start with "amq."
//     (RabbitMQ reserves those names); other topics are refused before
//     anything is sent.
//   - A subscriber with a group consumes the durable queue
//     "<topic>.<group>", bound to that exchange, where a "." in the group
//     is written "%2E" and a "%" is written "%25" (group "eu.billing" of
//     topic "orders" is "orders.eu%2Ebilling"). The escaped group has no
//     ".", so the last "." of the name separates topic and group: two
//     different (topic, group) pairs never share a queue, even when the
//     topic has dots ("ordersN.eu" with group "billing" is
//     "ordersN.eu.billing"). Every subscriber of the group, in any
//     process, consumes the same queue, so they share the messages; each
//     group has its own queue and gets every message. The queue, and the
//     persistent messages in it, survive a broker restart and
//     subscribers coming and going.
//   - A subscriber without a group gets its own exclusive queue
//     "<topic>.%private-<id>", where id is unique to the Watermill
//     Subscriber (an escaped group never starts with "%p"): the broker
//     deletes it when the subscriber closes or its connection drops (it
//     is declared again on reconnect; messages published while it was
//     gone are not delivered to it).
//   - A queue name longer than RabbitMQ's 255 bytes keeps its first bytes
//     (cut on a character boundary) and ends with ".%h" and 32 hex digits
//     of the SHA-256 of the full name, so it stays distinct.
//   - Consumer tags are chosen by the broker; no other name is derived.
//
// Upgrading: before this naming, the group was not escaped and private
// queues were "<topic>.private-<id>". Queues of groups without "." or "%"
// keep their names. A group with "." or "%" (or a name over 255 bytes)
// now consumes a new queue: the old one stays bound to the exchange and
// keeps collecting messages until it is deleted (rabbitmqctl
// delete_queue), so drain it with the old version, or move its messages,
// and then delete it.
//   - Several Subscribe calls for one topic on the same Watermill
//     Subscriber (what subscriber.WithConcurrency does) are several AMQP
//     consumers of the same queue, so they compete for its messages, with
//     or without a group.
//
// Subscribe returns only after the exchange and queue are declared and
// bound and the consumer is registered, so a message published after it
// returned reaches that subscriber.
//
// # Delivery
//
// Messages are persistent (delivery mode 2). With publisher confirms (on
// by default) Publish returns nil only once the broker has confirmed every
// message, which for a durable queue means it is on disk. A Publish call
// sends its messages on one channel, in order, and then waits for their
// confirms together (at most "window" unconfirmed at a time); it does not
// hold the channel while it waits, so concurrent Publish calls share the
// "pool" channels and their confirms overlap. A message published to a
// topic no queue is bound to is dropped by the broker (and confirmed):
// declare a group's queue ahead with SubscribeInitialize (Watermill's
// message.SubscribeInitializer) if it must keep messages published before
// the group's first subscriber.
//
// PublishAsync (adapters.AsyncPublisher, Herald's asynchronous and batch
// publish path) sends a message on one of the "pool" channels and
// returns; one confirm listener per channel (a goroutine, not one per
// message) calls the message's done once the broker confirmed it. At
// most "window" messages of a publisher are taken and not yet done: then
// PublishAsync waits for room until its context ends (an error wrapping
// herald.ErrUnreachable and the context's error; the message is not
// taken). Before it is sent a message waits for an unreachable broker
// within that context, as PublishContext does. Once taken it is bound by
// the publish timeout (30s), not by the context: when its channel or the
// connection is lost before the confirm, it is sent again after the
// reconnection (and may be stored twice); without a confirm within the
// timeout done gets an error wrapping herald.ErrUnreachable and
// context.DeadlineExceeded. A message the broker nacks is sent again, on
// a new channel, up to 6 times over about 1.3s (a quorum queue nacks
// while it elects a leader after a node was lost); a nack that lasts (a
// queue at its length limit with overflow=reject-publish), or a refusal
// of that message (size, permission), fails that message alone; the same
// holds for Publish. Close waits up to
// 5s for confirms, then calls done with herald.ErrClosed for the rest.
//
// Stream (adapters.StreamSubscriber, Herald's windowed consume path) is
// one AMQP consumer with prefetch = the window asked for (at most 65535),
// so up to window deliveries are unacknowledged at once, handed out as
// they arrive. Delivery.Key is the herald-key header; Delivery.Attempt is
// 1 plus the x-delivery-count header on quorum queues, 0 on classic
// queues (which do not count). Acks are coalesced: an ack only marks its
// delivery settled, and one goroutine per stream sends a single
// multiple-ack for the contiguous settled prefix of delivery tags - at
// once when it covers an eighth of the window, else within 2ms - never
// past a delivery still unsettled. A nack requeues its delivery alone at
// once; a nack with a delay is held on a timer, and while one is held
// the deliveries acked behind it are acked one by one, so that the delay
// does not keep the window full. After a lost channel or connection the
// consumer is registered again (reported and logged as below);
// deliveries of the lost channel were requeued by the broker, so settling
// them does nothing. Close sends the acks of what was settled before it
// and closes the channel: the broker requeues everything else, held
// nacks included. While a lost channel's deliveries are still being
// handled, the new channel's window comes on top of them.
//
// With Watermill's Subscribe, each consumer hands its messages over one
// at a time and acks one only after its handler acked it; a nack requeues it and the broker delivers
// it again, with the redelivered flag (metadata RedeliveredHeader).
// RabbitMQ cannot delay a redelivery, so a nack with a delay
// (adapters.NackDelay: herald.RetryAfter, or the subscriber's growing
// delay after failures) is honoured by holding the message unsettled, on
// a timer, and nacking it when the delay has passed; meanwhile the
// consumer goes on with the next messages. A held message counts against
// "prefetch" (the broker sends at most that many unsettled messages per
// consumer). Closing the subscriber or ending the Subscribe context stops
// the timers without waiting: the broker requeues held messages at once,
// with everything else delivered but not acked. Up to "prefetch" further
// messages wait in the client per consumer. Close acks what handlers
// acked before it.
//
// Order: a single consumer (concurrency 1) receives a classic queue's
// messages in publish order, and keeps that order across nacks without a
// delay: when the subscriber has one consumer of the topic and holds no
// message, such a nack also closes and reopens its channel, so the broker
// requeues the prefetched messages behind the nacked one to their
// original positions (they come back flagged as redelivered). A message
// nacked with a delay comes back after the messages behind it. With
// several consumers (concurrency > 1, or several processes in a group)
// there is no order.
//
// # Headers
//
// Every metadata entry is an AMQP header, herald.KeyHeader ("herald-key")
// included, so rabbitmqadmin, the management UI and amqp-tools show them.
// The message ID is the AMQP message_id property and the
// "_watermill_message_uuid" header (what watermill-amqp reads). A message
// published by another tool is consumed as well: its ID is that header,
// else message_id, else a new ID; non-string header values become strings.
//
// # Contexts and closing
//
// Opening a publisher or subscriber, Subscribe and the TLS and AMQP
// handshakes, channel opening, declarations and consumer registration
// they wait for all end when their context ends, with an error wrapping
// ctx.Err(); Close interrupts them too. SubscribeInitialize (Watermill's
// interface has no context) waits at most "dial_timeout";
// SubscribeInitializeContext takes a context. After Close every method
// returns an error wrapping herald.ErrClosed. Close waits at most 5s for
// the confirms of publishes in flight and 1s for the broker to answer
// its connection close.
//
// # Reconnecting
//
// Each publisher and subscriber has one connection, redialled with
// exponential backoff (100ms growing to "reconnect_max", with jitter)
// after the broker or the network went away. A loss is logged at warn
// level (once, with its cause) and the reconnection at info level, to the
// logger of the Open context (adapters.Logger; the publisher and
// subscriber packages pass theirs).
//
// Publishing while the broker is unreachable waits for the reconnection
// until the context ends (PublishContext, which the publisher package
// calls) or for 30s (Watermill's Publish, which has no context); then it
// returns an error wrapping herald.ErrUnreachable and the context's
// error. When a confirm is lost with the connection, the message may or
// may not have been stored: it is sent again after the reconnection, so
// a message can be stored twice (at-least-once). Errors that waiting
// cannot fix (see Errors) are returned at once.
//
// Consumers register again, re-declaring their queue, as soon as the
// connection is back, on the same Subscribe channel. A subscription that
// stops receiving - lost connection, a channel closed by the broker, its
// queue deleted (the broker cancels the consumer), a refused permission -
// is logged at warn level once per outage and reported with
// adapters.ReportStatus on the Subscribe context, wrapping
// herald.ErrSubscriptionLost and the cause, after every failed attempt
// to consume again (at most once a second); receiving again is logged at
// info level and reported with nil. A deleted group queue is declared
// again (messages published while it was gone are lost: the report says
// so); a refused permission is retried until the subscriber package's
// recovery timeout gives up.
//
// # Errors
//
// Errors read "herald/amqp: <operation> "<topic>": <cause>" (herald/amqps
// with TLS), or "herald/amqp: connect to <host> (vhost "<v>"): <cause>"
// when opening, and wrap the client's error and Herald's sentinels. They
// name the likely cause: a TLS port dialled with amqp:// ("the server
// expects TLS on this port"), a plain port dialled with amqps://, refused
// credentials, a missing vhost, a refused permission. Before sending,
// Publish refuses, at once and for that message alone, a message ID or
// header name over AMQP's 255 bytes and headers that do not fit in one
// frame of the negotiated frame_max (131072 bytes by default: carry large
// data in the payload), which the broker would answer by closing the
// connection of every publish sharing it. A payload over the broker's
// max_message_size closes the channel: the error names the size and the
// limit, other messages on that channel are sent again, and later
// payloads over the limit are refused before sending.
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
// naming what failed (not herald.ErrUnreachable); RabbitMQ itself answers
// a wrong password only after about 3 s (a deliberate delay):
//
//	herald/amqps: connect to rabbit:5671 (vhost "orders"): TLS: server certificate signed by unknown authority (tls_ca=/etc/herald/ca.pem did not sign it): ...
//	herald/amqps: connect to rabbit:5671 (vhost "orders"): authentication failed for user "app" (check the password): ...
//
// ACCESS_REFUSED fails Publish, PublishAsync and Subscribe at once, naming
// the user and vhost: publishing needs configure (declare) and write on
// the exchange named after the topic; subscribing configure on the queue,
// write on the queue and read on the exchange (bind), read on the queue
// (consume):
//
//	herald/amqps: publish to "orders": message ... unconfirmed: permission denied to publish (declare or write to the exchange) for user "ro" in vhost "orders" (...): Exception (403) ...
//
// Go's TLS client sends a client certificate only if a CA the server
// names in its request signed it; otherwise it sends none, and a server
// with fail_if_no_peer_cert = false accepts the connection without one.
// Passwords and key material never appear in errors or logs.
// adapters/securetest proves this against a private node with an amqps
// listener, a vhost and users with and without permissions; see
// docs/security.md.
//
// # Options
//
//	prefetch         unacked messages the broker sends ahead to each Subscribe consumer
//	                 (1..65535, default 256); a Stream's window, unless the subscriber
//	                 sets one (subscriber.WithWindow)
//	pool             publish channels shared by concurrent Publish calls (1..1024, default 2)
//	window           unconfirmed messages per Publish call before waiting, and PublishAsync
//	                 messages per publisher not yet done (1..65536, default 256)
//	confirm          wait for publisher confirms (bool, default true)
//	queue_type       group queue type: auto, classic or quorum (default auto: quorum when the URL names
//	                 several hosts, classic with one; private queues are always classic)
//	heartbeat        AMQP heartbeat interval (1s..10m, default 10s)
//	dial_timeout     TCP connect and handshake timeout (100ms..10m, default 10s)
//	reconnect_max    longest wait between reconnect attempts (100ms..10m, default 5s)
//	connection_name  connection name shown by the broker (default "herald")
//	tls_ca           amqps: PEM file of CA certificates (default: the system pool)
//	tls_cert         amqps: PEM client certificate file, with tls_key
//	tls_key          amqps: PEM client private key file, with tls_cert
//	tls_server_name  amqps: name to verify the server certificate against (default: the host)
//	tls_insecure_skip_verify  amqps: do not verify the server certificate (bool, default false; tests
//	                 only; tls_skip_verify is an older name)
//
// The TLS options are errors with the amqp scheme. With queue_type=quorum
// note that RabbitMQ 4 quorum queues drop a message after 20 redeliveries
// by default (a delivery limit), where classic queues redeliver forever.
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
// limit. Behind a load balancer (one host name for a cluster) set
// queue_type=quorum. To move an existing group to quorum, drain and
// delete its queue (rabbitmqctl delete_queue) and let the subscriber
// declare it again. Every subscriber of a group must ask for the same
// type.
//
// # Throughput
//
// BenchmarkRabbitMQ, 1 KiB messages, RabbitMQ 3.10 on the same 2-core
// machine, msgs/s, median of 3 runs of 5000 (p: publishing goroutines,
// xb: messages per Publish call, c: consumers):
//
//	case               herald   watermill stock   watermill tuned
//	publish p1           1.8k     1.7k (no confirms)   1.8k
//	publish p16          9.8k     3.5k (no confirms)   8.8k
//	publish p1xb100     19.1k    47.7k (no confirms)   1.8k
//	consume c4          31.5k    10.6k                30.0k
//	e2e p16/c4           8.0k     3.0k                 7.7k
//	e2e p4xb100/c4      18.5k     8.8k                 3.3k
//
// "stock" is watermill-amqp's NewDurableQueueConfig (a channel per
// publish, no confirms, prefetch 1); "tuned" is watermill-amqp with
// confirms, 16 pooled channels and prefetch 128. A single publisher
// waiting for each confirm is bound by the broker's fsync (~1.8k/s
// whatever the client); batches and concurrent publishers are where
// sharing channels and waiting for confirms together pays.
//
// Prefetch matters once there is network latency: through a proxy giving
// a 2.4ms round trip, one consumer drains 0.4k/s with prefetch 1, 5.0k
// with 16, 15.4k with 64, 20.1k with 128 and 22.0k with 256 (on loopback
// all are 24-29k). The default is 256, the window the native client gets
// in the benchmarks; it bounds what a consumer holds (prefetch times the
// message size: lower it for large messages).
// Publish channels: with 16 concurrent publishers 1, 2 and 4 channels
// give 8.8k-9.8k/s and 8 channels 5.8k; 2 keeps the best figures and does
// not put every publish on one channel.
//
// The fast paths, adapter only (they bypass the publisher and subscriber
// packages), 1 KiB, RabbitMQ 3.10 on the same machine, smoke runs of
// 5000 messages (BenchmarkStreamPath, BenchmarkPublishAsyncPath,
// BenchmarkPublishContextPath; allocations count amqp091's own):
//
//	path                                   msgs/s   allocs/msg
//	PublishAsync, window 256                ~21k      51
//	PublishContext, 16 goroutines           ~9.5k     54
//	Stream, window 256, ack each            ~37k      49
//
// against amqp091-go alone in the bench module (deferred confirms 256,
// prefetch 256): ~20k end to end, ~65 allocations per message for both
// sides. Most of the allocations are the client's own encoding and
// decoding of each message's properties and headers; the message itself
// (message.NewMessage) is 4-6.
//
// # Escape hatch
//
// The publisher and subscriber returned by Open have a method
//
//	As(target any) bool
//
// in the style of Go CDK. Supported targets:
//
//	**amqp091.Connection  (github.com/rabbitmq/amqp091-go) the current connection;
//	                      false while reconnecting or after Close; do not close it
//	*amqp.Config          (github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp)
//	                      the equivalent watermill-amqp Config (its AmqpURI names the
//	                      first host only: watermill-amqp dials one address)
//
// As never dials. To use watermill-amqp's own Publisher or Subscriber,
// build them from that Config (amqp.NewPublisher(cfg, logger)): each
// dials a connection of its own, which you close; they use the same
// topology and message mapping, so they interoperate with Herald's.
//
// # Why not watermill-amqp's Publisher and Subscriber
//
// Herald keeps watermill-amqp's Config, topology builder and marshaler
// interface and the Watermill message interfaces, with small publish and
// consume loops of its own on amqp091-go, because in watermill-amqp
// v3.0.2: Publish waits for each confirm before sending the next message
// of a batch (1.8k msgs/s against 19k above); Subscribe returns before
// the consumer is registered; Close can requeue a message whose handler
// acked it, and a Subscribe whose ctx is cancelled keeps one message
// unacked until Close; a publish that meets a closed pooled channel while
// the connection is down drops that channel from the pool for good; and
// the connection wrapper replaces its connection without synchronisation
// (a data race on every reconnect, ThreeDotsLabs/watermill#693).
package rabbitmq
