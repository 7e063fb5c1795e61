// Package kafka is Herald's Apache Kafka backend, built on Sarama
// (github.com/IBM/sarama) and watermill-kafka
// (github.com/ThreeDotsLabs/watermill-kafka/v3): publishing uses a Sarama
// AsyncProducer directly, writing the records watermill-kafka writes;
// consuming uses watermill-kafka's subscriber (one per topic), with
// Herald's readiness, offset marking, nack delay and failure reporting
// around it. Importing it registers the "kafka" scheme:
//
//	import _ "github.com/heraldkit/herald/adapters/kafka"
//
//	pub, err := publisher.Open(ctx, "kafka://127.0.0.1:9092")
//	sub, err := subscriber.Open(ctx, "kafka://k1:9092,k2:9092?group=payments")
//
// # Target
//
//	kafka://[user:password@]host[:port][,host[:port]...][?option=value&...]
//
// At least one broker is required; a host without a port uses 9092. The
// user and password are sent only with SASL (option sasl) and never appear
// in errors or in the configuration's String.
//
// # Options
//
//	option                    default        meaning
//	group                     (none)         consumer group; none: a private consumer
//	acks                      all            all | leader | none: which replicas must have a record before Publish returns
//	idempotent                true if acks=all  idempotent producer: no duplicates or reordering from producer retries
//	compression               none           none | gzip | snappy | lz4 | zstd
//	partitions                6              partitions of topics Herald creates
//	replication_factor        -1             replicas of topics Herald creates; -1: the broker's default.replication.factor
//	max_message_bytes         2097152        largest record (payload, key, headers) the producer sends; also
//	                                         max.message.bytes of topics Herald creates
//	initial_offset            oldest with a group, newest without
//	                                         oldest | newest: where a group, or a private consumer, starts
//	                                         when it has no committed offset
//	session_timeout           45s            consumer group session timeout (6s to 5m)
//	client_id                 herald         Kafka client id (letters, digits, '.', '_', '-')
//	version                   3.6.0          Kafka protocol version Sarama speaks (2.4.0 or newer)
//	tls                       false          TLS to the brokers (implied by any tls_* option)
//	tls_ca                    (system)       PEM file of CA certificates
//	tls_cert, tls_key         (none)         PEM files of a client certificate and its key
//	tls_insecure_skip_verify  false          do not verify the brokers' certificates
//	sasl                      (none)         plain | scram-sha-256 | scram-sha-512 (user and password from the URL)
//
// Unknown options and bad values are *herald.ConfigError values naming the
// option, the problem and what is allowed; Validate reports them all
// without connecting.
//
// # Messages
//
// The message ID travels in the "_watermill_message_uuid" header (IDHeader,
// Watermill's own, so plain watermill-kafka applications read Herald's IDs
// and the other way round). The key set with herald.SetKey is the record
// key: it picks the partition with the Java client's murmur2 formula (see
// NewKeyPartitioner), which keeps per-key order. Every other metadata entry
// is a record header, so other clients see it (checked with the Java
// client: same partition for a key, the headers and the ID header).
//
// Records written by other tools are consumed too: their record key
// becomes the herald-key metadata, their headers the metadata, and, with no
// ID header, the ID is "<topic>/<partition>/<offset>" (stable when the
// record is delivered again).
//
// # Topics
//
// A publisher or subscriber creates a topic the first time it uses it,
// with the configured partitions, replication factor and
// max.message.bytes, and waits until every partition has a leader (an
// existing topic is used as it is; without the right to create topics, an
// existing topic is enough). Herald turns broker-side automatic creation
// off for its own metadata requests, so the partition count is always
// Herald's. The subscriber's SubscribeInitialize (what the subscriber
// package's Prepare calls) creates a topic ahead of the first Subscribe; a
// group that starts at the oldest record (the default) then keeps what is
// published before it subscribes.
//
// The default of 6 partitions lets up to 6 handlers of one group member
// (subscriber.WithConcurrency) and up to 6 group members work on a topic
// at once; Kafka hands a partition's records out one at a time, in order.
// Use partitions=1 for a topic-wide order.
//
// # Subscribing
//
// With a group, the Subscribe calls of one subscriber for one topic share
// one Kafka consumer-group member and compete for its records; subscribers
// in the same group, in any process, share the topic's partitions, and
// each group gets every record. A new group starts at the oldest record
// (initial_offset=newest to start at the end), so records published before
// the group's first subscriber are delivered: groups are durable.
//
// Without a group, a subscriber is a private consumer: it reads every
// partition directly, from the end (initial_offset=oldest replays the
// topic), and gets every record published after Subscribe returned. It
// commits nothing and leaves no state on the brokers; its position lives
// in the process. Partitions added to the topic later are not read.
//
// Subscribe returns once the consumer is ready: partitions assigned and
// starting offsets known (it waits for a rebalance, up to 75 s). It
// returns earlier when its context ends or the subscriber is closed.
//
// # Contexts and closing
//
// Opening a publisher or subscriber, Subscribe,
// SubscribeInitializeContext (SubscribeInitialize waits up to a minute)
// and PublishContext honour their context at every wait (connecting, the
// Kafka handshake, metadata, topic creation, joining the group): when it
// ends they return at once with an error wrapping ctx.Err(). Sarama's own
// calls take no context, so every connection goes through a dialer of the
// adapter's that closes them all (and turns Sarama's retry backoffs to
// zero) when the wait is abandoned. Close interrupts a Subscribe still
// joining its group and does not wait for it. Every method called after
// Close returns an error wrapping herald.ErrClosed.
//
// # Delivery
//
// The publisher implements adapters.ContextPublisher. PublishContext
// returns nil once the broker acknowledged the record (acks); several
// messages in one call are sent as one batch. It starts no goroutine (one
// long-lived goroutine per publisher hands the producer's results to the
// calls) and never changes the messages or their context.
//
// While the broker is down or a partition has no leader, a publish waits:
// Sarama retries, then Herald resends what failed, with backoff, until the
// context ends; then it returns an error wrapping herald.ErrUnreachable
// and ctx.Err() (and the last failure). A broker restart thus delays a
// publish rather than failing it; a resend may duplicate a record the
// broker had stored (at-least-once). Errors that waiting cannot fix are
// returned at once: a message over max_message_bytes, a refused
// authorization, a topic name Kafka does not allow. Watermill's Publish
// is PublishContext with a one-minute timeout. Close flushes what was
// handed to the producer for up to 5 s.
//
// Consumption is at-least-once. An acked message's offset is committed
// within a second and on Close; a nacked one is delivered again, before
// the later records of its partition, after the delay the handler asked
// for (adapters.NackDelay, set by the subscriber package for
// herald.RetryAfter and its growing nack delay) or 100 ms. A partition is
// ordered, so holding a nacked message holds its partition (other
// partitions go on); Close does not wait for the delay (the message was
// not acked: it is delivered again). Messages that were not acked when a
// member stopped go to the group's next member. A rebalance or a broker
// restart can deliver again the messages acked in the last second.
//
// A consumer-group session survives a broker outage shorter than
// session_timeout; longer outages, and crashed members, cost a rebalance.
// Sarama reconnects by itself; watermill-kafka restarts a consumer whose
// session ended.
//
// # Failures and errors
//
// Every error the Kafka stack reports for a subscription (watermill-kafka's
// log, the consumer group's and partition consumers' error channels) is
// logged at warn level on the logger of the Open context
// (adapters.Logger), each distinct error once per outage. The first one
// of an outage (broker gone, topic deleted, authorization refused, ...)
// is logged as "subscription lost" and reported with adapters.ReportStatus
// on the Subscribe context, wrapping herald.ErrSubscriptionLost and the
// cause; the subscription keeps retrying with backoff, and once it works
// again (partitions assigned again, or the topic's leaders answer and the
// group session is live) that is logged at info level and reported with
// nil. Errors of a normal rebalance (a commit racing with it) are logged
// but are not an outage.
//
// Errors read "herald/kafka: <operation> "<topic>": <cause>" (operations:
// publish to, subscribe to, prepare), or "herald/kafka: open publisher on
// [brokers]: <cause>", and wrap Sarama's errors and Herald's sentinels.
// When the brokers cannot be reached the cause names the likely reason
// where it can tell: SASL against a listener without SASL, TLS to a
// plaintext listener, plaintext to a TLS listener (the adapter connects
// again without the suspect setting to find out), or the broker's own
// error (a failed SASL authentication); otherwise the error wraps
// herald.ErrUnreachable.
//
// Herald uses topic and group names as given: it derives no names, so
// different names never share a Kafka object. Kafka allows topic names of
// 1 to 249 letters, digits, '.', '_' and '-' (checked before any request)
// and refuses a topic whose name differs from an existing one only by '.'
// versus '_'.
//
// # Performance
//
// The defaults favour safety: acks=all with the idempotent producer (Sarama
// then keeps one request in flight per broker) and 6 partitions.
// BenchmarkKafka runs Herald beside watermill-kafka's stock configuration
// (acks=leader, no idempotence, topics auto-created with one partition) in
// the same run; BenchmarkKafkaConsume measures the consuming side alone.
// The figures below were measured when the publisher used a Sarama
// SyncProducer through watermill-kafka; Sarama's SyncProducer is a
// wrapper around an AsyncProducer, which the publisher now uses directly
// with the same settings (not measured again).
// 1 KiB messages, one local Kafka 4.4 broker, 2 cores shared with the
// broker, median of 3 of one run of
//
//	go test ./adapters/kafka -run '^$' -bench Kafka -benchtime 5000x -count 3
//
//	case                                   herald   herald,partitions=1   watermill stock
//	publish, 1 goroutine       msg/s        4,742                4,861             4,976
//	publish, 8 goroutines      msg/s       17,241               16,887            17,500
//	end-to-end, 8 publishers   msg/s        9,973               10,868            11,893
//	drain a backlog, 1 handler msg/s      172,900              144,701           198,186
//	6 handlers of 5 ms each    msg/s        1,040                  189
//
// Publishing is bound by the broker's round trips, not by the adapter:
// the benchmark process uses about a sixth of a core, a bare Sarama
// producer with Herald's configuration is as fast, and idempotent=false or
// acks=leader do not change the 8-goroutine figures beyond the noise. End
// to end is the publish rate with the broker also serving the consumer
// (the subscriber keeps up: it drains a backlog more than ten times
// faster). Run to run, one case varies by ±20% (8k to 13k end to end), so
// differences of that size between the columns are noise.
//
// Partitions: one fast handler drains 6 partitions at least as fast as 1,
// and handlers that take time get one message per partition at a time, so
// 6 slow handlers get 5 times the throughput from 6 partitions. Use
// partitions=1 only for a topic-wide order.
//
// Keyless records stick to one partition per ~16 KiB (see
// NewKeyPartitioner) so that concurrent publishes share batches (a
// stickiness of 256 KiB measured the same).
//
// # Escape hatch
//
// The publisher and subscriber returned implement As(target any) bool, in
// the style of Go CDK, reached through herald's publisher and subscriber
// As methods:
//
//	var client sarama.Client
//	if pub.As(&client) { ... }
//
// Targets (all exported Sarama types):
//
//	*Publisher   *sarama.AsyncProducer  the producer (do not read its Successes or Errors: the publisher does)
//	             *sarama.Client         the publisher's metadata and admin client (the producer's too)
//	             *sarama.ClusterAdmin   the admin that creates topics
//	*Subscriber  *sarama.Client         the subscriber's metadata and admin client
//	             *sarama.ClusterAdmin   the admin that creates topics
//
// Each consumer has its own Sarama client inside watermill-kafka, not
// reachable through As. Do not close what As returns.
package kafka
