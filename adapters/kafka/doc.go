// Package kafka is Herald's Apache Kafka backend, built on franz-go
// (github.com/twmb/franz-go, pkg/kgo and pkg/kadm). It implements
// Watermill's Publisher and Subscriber on the franz-go client, as the
// RabbitMQ and NATS backends do on theirs, writes and reads the records
// watermill-kafka writes (so plain watermill-kafka applications and Herald
// interoperate in both directions), and adds Herald's fast paths:
// PublishAsync (adapters.AsyncPublisher) and a windowed Stream
// (adapters.StreamSubscriber). Importing it registers the "kafka" scheme:
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
//	replication_factor        auto           replicas of topics Herald creates; auto: 3 when the cluster lists 3 or
//	                                         more brokers, else the broker's default.replication.factor;
//	                                         -1: always the broker's default; or a count
//	min_insync_replicas       auto           min.insync.replicas of topics Herald creates; auto: 2 when the topic
//	                                         gets 3 or more replicas, else the broker's min.insync.replicas
//	                                         (1 unless configured); -1: always the broker's; or a count
//	max_message_bytes         2097152        largest record (payload, key, headers) the producer sends; also
//	                                         max.message.bytes of topics Herald creates
//	initial_offset            oldest with a group, newest without
//	                                         oldest | newest: where a group, or a private consumer, starts
//	                                         when it has no committed offset
//	window                    256            records a consumer keeps polled and not settled (1 to 65536), when
//	                                         the subscriber does not set it (subscriber.WithWindow)
//	session_timeout           10s            consumer group session timeout (6s to 5m): how long a
//	                                         crashed member's partitions wait (see Hand-over)
//	client_id                 herald         Kafka client id (letters, digits, '.', '_', '-')
//	version                   3.6.0          highest Kafka protocol version spoken (2.4.0 to 4.4.0)
//	tls                       false          TLS to the brokers (implied by any tls_* option)
//	tls_ca                    (system)       PEM file of CA certificates
//	tls_cert, tls_key         (none)         PEM files of a client certificate and its key
//	tls_server_name           (the host)     name to verify the brokers' certificates against
//	tls_insecure_skip_verify  false          do not verify the brokers' certificates (tests only)
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
// On a cluster of 3 or more brokers (counted in the metadata, which lists
// the live ones) a topic Herald creates gets replication factor 3 and
// min.insync.replicas 2: with acks=all (the default) a publish returns
// only once the record is on at least two brokers, and the topic keeps
// taking writes and serving reads while any one broker is down (with two
// down, publishes wait: NOT_ENOUGH_REPLICAS is retried until the context
// ends). A smaller cluster, or a single broker, gets the broker's
// defaults. See docs/guarantees.md, "Durability".
//
// The default of 6 partitions lets up to 6 handlers of one group member
// (subscriber.WithConcurrency) and up to 6 group members work on a topic
// at once; Kafka hands a partition's records out one at a time, in order.
// Use partitions=1 for a topic-wide order.
//
// # Subscribing
//
// With a group, the Subscribe calls of one subscriber for one topic share
// one Kafka consumer-group member and compete for its records (each Stream
// call is a member of its own); subscribers
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
// Subscribe and Stream return once the consumer is ready: the member
// joined its group (it waits for the join, up to 75 s) and, with
// initial_offset=newest, the starting offsets of its partitions are
// pinned. With the cooperative balancer a member that joins a busy group
// may be ready before it owns partitions: they come in the next
// rebalance, once the other members committed what they settled. A
// record published after Subscribe returned is delivered to the group.
// They return earlier when their context ends or the subscriber is
// closed.
//
// # Contexts and closing
//
// Opening a publisher or subscriber, Subscribe,
// SubscribeInitializeContext (SubscribeInitialize waits up to a minute)
// and PublishContext honour their context at every wait (connecting, the
// Kafka handshake, metadata, topic creation, joining the group): when it
// ends they return at once with an error wrapping ctx.Err(). Every
// connection goes through a dialer of the adapter's that can close them
// all (and turn franz-go's retry backoffs to zero) when a wait is
// abandoned. Close interrupts a Subscribe still
// joining its group and does not wait for it. Every method called after
// Close returns an error wrapping herald.ErrClosed.
//
// # Delivery
//
// The publisher implements adapters.ContextPublisher and
// adapters.AsyncPublisher on franz-go's Produce with promises (acks=all
// and the idempotent producer by default, no linger). Concurrent
// PublishContext calls pipeline: their records share the producer's
// batches and requests (up to 4 in flight per broker with idempotence),
// and each call returns once the broker acknowledged its own records. No
// goroutine is started per call, and the messages and their context are
// not changed. PublishAsync takes up to 8192 records awaiting their
// acknowledgement and blocks while that window is full.
//
// While the broker is down or a partition has no leader, a publish waits
// (franz-go retries) until its context ends; then it returns an error
// wrapping herald.ErrUnreachable and ctx.Err() (and the last connection
// failure). A broker restart thus delays a publish rather than failing
// it. Errors that waiting cannot fix are returned at once: a message over
// max_message_bytes, a refused authorization, a topic name Kafka does not
// allow. Watermill's Publish is PublishContext with a one-minute timeout;
// a PublishAsync record waits up to a minute. Close flushes what was
// handed to the producer for up to 5 s.
//
// Consumption is at-least-once. Stream keeps up to window records polled
// and not settled (Receive blocks the poll while the window is full);
// acks and nacks come in any order. Each partition's commit offset is its
// watermark: the offset after the highest record below which every
// record was acked (internal/flow.Watermark), marked every 200 ms and
// committed every 250 ms, when a partition is revoked and on Close, never
// past a record not yet acked (a member killed with later records done
// and earlier ones not gets the earlier ones again). A nacked record is
// held in the process for its delay (adapters.NackDelay; Watermill's
// Subscribe uses 100 ms without one) and delivered again by the same
// stream; the watermark stays behind it. Other records, of its partition
// too, go on meanwhile: Herald's subscriber orders deliveries by key
// (Delivery.Key is the record key). On a revoke the stream drops the
// revoked partitions' queued records, waits up to 10 s for those handed
// out to be settled, commits and forgets them (later settlements are
// ignored: the next owner gets them again); Close commits what was
// settled and leaves the group at once, so its partitions move without
// waiting for the session timeout.
//
// Watermill's Subscribe is built on one such consumer per topic, shared by
// the Subscribe calls for it, with watermill-kafka's order: a partition's
// records go out one at a time, the next once the previous one was acked,
// and a nacked record goes out again (after its delay, 100 ms without
// one) before the later ones of its partition, other partitions going on
// meanwhile. Each Subscribe call holds at most one message at a time (it
// takes the next once the previous one was acked or nacked), so N calls
// work on up to N partitions at once.
//
// A consumer-group session survives a broker outage shorter than
// session_timeout; longer outages, and crashed members, cost a rebalance.
// franz-go reconnects and rejoins by itself. Groups use franz-go's
// cooperative-sticky balancer: a joining member does not stop the others.
//
// # Hand-over
//
// A member that stops cleanly (Close, Shutdown, SIGTERM handled) commits
// and leaves the group: its partitions move at once (0.5 s measured by
// the chaos harness, no duplicates). A member that dies (SIGKILL, crash,
// power loss) cannot leave: the broker moves its partitions once its
// session times out, so its partitions sit idle for session_timeout. The
// default is 10 s (Kafka's client default before 3.0), with a heartbeat
// every second from a goroutine of franz-go's own (a slow handler does not
// delay it); the broker allows 6 s to 5 min (group.min/max.session.timeout.ms).
// Raise it where networks pause longer than that (a pause beyond it costs a
// rebalance and duplicates); lower it to 6 s for a faster hand-over.
// Measured (chaos harness, consumer-kill, one member of three SIGKILLed at
// 1000 msg/s, docs/reliability.md): 45 s session timeout: 45.7 s idle;
// 10 s: 10.5-11.0 s; 6 s: 6.1 s.
//
// Kafka 4's consumer group protocol (KIP-848, franz-go's
// ServerSideBalancer) does not shorten this: its session timeout is the
// broker's (group.consumer.session.timeout.ms, 45 s by default, and
// group.consumer.min.session.timeout.ms is 45 s too), the client cannot
// set it, and franz-go advises it only from Kafka 4.3 and only with the
// range or sticky balancer (Herald uses cooperative-sticky). Herald stays
// on the classic protocol.
//
// Duplicates after a crash are the records the dead member had settled
// but not committed yet: offsets are marked every 200 ms and committed
// every 250 ms, so up to about half a second of the member's records come
// again (measured: 6-58 duplicates at ~330 msg/s per member, against
// 53-226 with the earlier one-second commit interval).
//
// # Failures and errors
//
// Every error the Kafka stack reports for a subscription (a failed
// connection to a broker, a fetch error, partitions lost by the group) is
// logged at warn level on the logger of the Open context
// (adapters.Logger), each distinct error once per outage. The first one
// of an outage (broker gone, topic deleted, authorization refused, ...)
// is logged as "subscription lost" and reported with adapters.ReportStatus
// on the Subscribe context, wrapping herald.ErrSubscriptionLost and the
// cause; the subscription keeps retrying with backoff, and once it works
// again (records fetched, partitions assigned again, or the topic's
// leaders answer and the member holds its assignment) that is logged at info level and reported with
// nil. Errors of a normal rebalance (a commit racing with it) are logged
// but are not an outage.
//
// Errors read "herald/kafka: <operation> "<topic>": <cause>" (operations:
// publish to, subscribe to, prepare), or "herald/kafka: open publisher on
// [brokers]: <cause>", and wrap franz-go's errors (kerr) and Herald's sentinels.
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
// # TLS and authentication
//
// TLS is on with tls=true or any tls_* option. The brokers' certificates
// are verified against tls_ca (else the system roots); tls_cert and
// tls_key give the client certificate a listener with
// ssl.client.auth=required (or requested) asks for. Credentials are sent
// only with SASL: sasl=scram-sha-512 (or scram-sha-256, or plain, which
// sends the password as is: only over TLS), user and password in the URL:
//
//	kafka://app:secret@b1:9094,b2:9094?sasl=scram-sha-512&tls_ca=/etc/herald/ca.pem&tls_cert=/etc/herald/client.pem&tls_key=/etc/herald/client-key.pem
//
// A certificate or a credential the broker refuses is not transient: Open
// returns at once, without probing or waiting, with an error naming what
// failed (and not wrapping herald.ErrUnreachable):
//
//	herald/kafka: open publisher on [b1:9094]: b1:9094: TLS: broker certificate signed by unknown authority (tls_ca=/etc/herald/ca.pem did not sign it): ...
//	herald/kafka: open publisher on [b1:9094]: b1:9094: TLS: the broker refused the handshake (no client certificate given: the listener probably requires one ...): remote error: tls: bad certificate
//	herald/kafka: open publisher on [b1:9094]: b1:9094: authentication failed for user "app" (check the password; sasl=SCRAM-SHA-512): SASL_AUTHENTICATION_FAILED: ...
//
// An operation the ACLs refuse fails at once too, naming the user and the
// ACL it needs: Publish and PublishAsync on TOPIC_AUTHORIZATION_FAILED
// (WRITE and DESCRIBE on the topic) or CLUSTER_AUTHORIZATION_FAILED (the
// idempotent producer, on with acks=all, needs WRITE on the topic or
// IDEMPOTENT_WRITE on the cluster; creating a topic needs CREATE),
// Subscribe on GROUP_AUTHORIZATION_FAILED (READ on the group):
//
//	herald/kafka: publish to "orders": permission denied for user "ro" (the topic's ACLs do not allow it: ...): TOPIC_AUTHORIZATION_FAILED: ...
//
// Passwords and key material never appear in errors or logs (debug level
// included). adapters/securetest proves all of this against a broker with
// a SASL_SSL listener, SCRAM-SHA-512, required client certificates and
// StandardAuthorizer ACLs; see docs/security.md.
//
// # Performance
//
// Why franz-go (issue 8): Sarama's idempotent producer requires
// Net.MaxOpenRequests = 1, one produce request in flight per broker, so a
// publisher is bound by round trips; franz-go keeps 4 in flight with
// idempotence, batches concurrent Produce calls, and its consumer hands
// out polled records without a goroutine or channel per message. Smoke
// figures of the bench module (one round, n=5000, 1 KiB, one local Kafka
// 4.4 broker, 2 cores shared with other work, so only indicative):
//
//	cd bench && go run . -brokers kafka -sizes 1024 -n 5000 -rounds 1
//
//	case                                       end-to-end msg/s   allocs/msg
//	native franz-go, 256 in flight                         15.7k          4.0
//	native franz-go, 16 sync callers                       3.09k         31.5
//	Herald on Sarama, 16 sync publishers                   4.31k         85.8
//	Herald on Sarama, Publish of 100 per call              11.5k         57.9
//	(same command, final code, this backend on franz-go, all cases:)
//	native franz-go, 256 in flight                         76.4k          3.1
//	native franz-go, 16 sync callers                       12.1k         26.3
//	watermill-kafka stock, 16 publishers                   16.1k         60.7
//	Herald on franz-go, 1 sync publisher                   2.48k        130.5
//	Herald on franz-go, 16 sync publishers, 1 handler      10.6k         64.4
//	Herald on franz-go, 16 sync publishers, 8 handlers     14.6k         62.1
//	Herald on franz-go, Publish of 100 per call            65.0k         32.6
//
// The broker's load varied between runs (native 15.7k in the first), so
// compare within a run: Herald's batch path went from 0.73x of native on
// Sarama to 0.85x on franz-go, and 16 synchronous publishers from 1.4x
// to 1.2x of franz-go's own 16 synchronous callers, with Herald's
// publisher and subscriber packages still on PublishContext and
// Watermill's Subscribe (not yet on PublishAsync and Stream); most of the
// allocations are the facade's and Watermill's.
//
// The adapter alone (adapterbench_test.go: Publisher and Stream called
// directly; -benchtime 5000x, 1 KiB, same machine):
//
//	BenchmarkAdapterPublishAsync          14.4 µs/msg   10 allocs/msg
//	BenchmarkAdapterPublishContext16      62-80 µs/msg  24 allocs/msg  (16 sync callers, linger 0)
//	  with franz-go's 10 ms linger        52-65 µs/msg  24 allocs/msg
//	BenchmarkAdapterStream (drain, ack)    7.5 µs/msg    8 allocs/msg
//
// Linger makes no difference beyond the noise for 16 synchronous callers
// (their records share requests either way: 64 concurrent calls wrote 2
// produce requests in TestPublishContextPipelines), but it would delay a
// lone caller by 10 ms per publish, so the publisher does not linger.
// Publishing is bound by the broker's round trips; end to end is the
// publish rate with the broker also serving the consumer.
//
// Keyless records stick to one partition per ~16 KiB (franz-go's
// UniformBytesPartitioner) so that concurrent publishes share batches;
// keyed records go where the Java client puts them (murmur2).
//
// # Escape hatch
//
// The publisher and subscriber returned implement As(target any) bool, in
// the style of Go CDK, reached through herald's publisher and subscriber
// As methods:
//
//	var client *kgo.Client
//	if pub.As(&client) { ... }
//
// Targets:
//
//	*Publisher   **kgo.Client    the franz-go client that produces
//	             **kadm.Client   an admin client on it (creates topics)
//	*Subscriber  **kgo.Client    the subscriber's metadata and admin client
//	             **kadm.Client   the admin client that creates topics
//
// Each consumer (Stream, or the Subscribe calls of a topic) has a client
// of its own, not reachable through As. Do not close what As returns.
//
// Marshaler and NewKeyPartitioner remain for applications that use
// watermill-kafka or Sarama next to Herald: they write the same records
// to the same partitions.
package kafka
