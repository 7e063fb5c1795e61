// Package kafka is Herald's Apache Kafka backend: an adapters.Driver on
// franz-go (github.com/twmb/franz-go, pkg/kgo and pkg/kadm), registered
// for the "kafka" scheme. Importing it is enough:
//
//	import _ "github.com/heraldkit/herald/adapters/kafka"
//
//	pub, err := publisher.Open(ctx, "kafka://127.0.0.1:9092")
//	sub, err := subscriber.Open(ctx, "kafka://k1:9092,k2:9092?group=payments")
//
// # Why franz-go
//
// Watermill's Kafka adapter (watermill-kafka, on Sarama) publishes one
// message at a time and waits for its acknowledgement, and Sarama's
// idempotent producer allows one produce request in flight per broker
// (Net.MaxOpenRequests = 1): a publisher is bound by round trips.
// Measured with the bench module, it is 3 to 12 times slower than this
// driver, depending on the case (see Performance). franz-go keeps up to 5
// requests in flight per broker with idempotence, batches concurrent
// records, calls a promise per record (Topic.Send is built on Produce
// with a promise, and the facade's synchronous Publish on Send), and
// hands out polled records without a goroutine or channel per message.
// The records are the ones watermill-kafka writes, so plain
// watermill-kafka applications and Herald interoperate both ways (the
// Watermill bridge tests it).
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
//	acks                      all            all | leader | none: which replicas must have a record before it is acknowledged
//	idempotent                true if acks=all  idempotent producer: no duplicates or reordering from producer retries
//	compression               none           none | gzip | snappy | lz4 | zstd
//	partitions                6              partitions of topics Herald creates
//	replicas                  auto           replicas of topics Herald creates; auto: 3 when the cluster lists 3 or
//	                                         more brokers, else the broker's default.replication.factor;
//	                                         -1: always the broker's default; or a count
//	min_insync_replicas       auto           min.insync.replicas of topics Herald creates; auto: 2 when the topic
//	                                         gets 3 or more replicas, else the broker's min.insync.replicas
//	                                         (1 unless configured); -1: always the broker's; or a count
//	max_message_bytes         2097152        largest record (payload, key, headers) the producer sends; also
//	                                         max.message.bytes of topics Herald creates, and
//	                                         Capabilities.MaxMessageSize
//	start                     oldest with a group, newest without
//	                                         oldest | newest: where a group, or a private consumer, starts
//	                                         when it has no committed offset
//	session_timeout           10s            consumer group session timeout (6s to 5m): how long a
//	                                         crashed member's partitions wait (see Hand-over)
//	client_id                 herald         Kafka client id (letters, digits, '.', '_', '-')
//	connect_timeout           10s            bound on each dial and TLS handshake (100ms to 10m)
//	version                   3.6.0          highest Kafka protocol version spoken (2.4.0 to 4.4.0)
//	tls                       false          TLS to the brokers (implied by any tls_* option)
//	tls_ca                    (system)       PEM file of CA certificates
//	tls_cert, tls_key         (none)         PEM files of a client certificate and its key
//	tls_server_name           (the host)     name to verify the brokers' certificates against
//	tls_insecure_skip_verify  false          do not verify the brokers' certificates (tests only)
//	sasl                      (none)         plain | scram-sha-256 | scram-sha-512 (user and password from the URL)
//
// The names mean the same on every backend (docs/configuration.md); the
// older names replication_factor (replicas) and initial_offset (start)
// are accepted until the next release, but not together with the new
// ones. The TLS options are read, and a failed handshake is explained, as
// on every backend (internal/tlsopt): the error names the certificate and
// the tls_ca it was checked against, or the client certificate the
// broker wants, or TLS on one side only.
//
// The consume window is the facade's: ?prefetch=N (every backend), or
// Kafka's older name ?window=N, read by adapters.SplitCommon
// (subscriber.WithWindow in code; 256 by default). The publish timeout,
// the async window and the redelivery delays are the facade's too: this
// driver has no option for them. Every other option is unknown, and
// unknown options and bad values are *herald.ConfigError values naming
// the option, the problem and what is allowed; Validate reports them all
// without connecting.
//
// # Capabilities
//
//	Durable         true: a group's position is kept by the brokers; a new group starts at the oldest record
//	Groups          true: the members of a group share a topic's partitions
//	Redelivery      RedeliverLocal: Kafka commits offsets and cannot redeliver one record
//	NackDelay       false
//	CountsAttempts  false: Kafka keeps no delivery count (Received.Attempt is 0)
//	Order           OrderKey: a key's records go to one partition and are delivered in order
//	MaxMessageSize  max_message_bytes
//	DefaultWindow   256
//	Delay           none (Max 0): Kafka has no delayed delivery and the
//	                driver builds none (delay topics read by a
//	                forwarder with paused partitions); publisher.PublishAt
//	                and PublishAfter are refused with herald.ErrInvalid
//	                naming the backend. Durable delayed delivery to Kafka:
//	                the outbox's scheduler, outbox.Store.PublishAt and
//	                PublishAfter (a database and a running relay; see
//	                package github.com/heraldkit/herald/outbox)
//
// # Messages
//
// The message ID travels in the "_watermill_message_uuid" header (IDHeader,
// Watermill's own). The key set with herald.SetKey is the record key
// (Received.Key): it picks the partition with the Java client's murmur2
// formula, which keeps per-key order, and Kafka Streams, Java and most
// other clients put a key on the same partition. Every other metadata
// entry is a record header. Records written by other tools are consumed
// too: their record key becomes the herald-key metadata, their headers
// the metadata, and, with no ID header, the ID is
// "<topic>/<partition>/<offset>" (stable when the record comes again).
// Several headers of one key (Kafka allows them) become one entry, the
// values joined with ", " in order, as NATS and HTTP join repeated
// headers (a value that holds ", " cannot be told apart). The record
// timestamp (the producer's create time, or the broker's append time
// with message.timestamp.type=LogAppendTime) is herald.Delivery.Time;
// herald.Properties.Time (publisher.PublishWith) sets it on publish
// (milliseconds; the produce time without). Every metadata entry is a
// header, whatever its name. A metadata entry named like IDHeader or
// starting with "Herald-Enc-" is escaped as NATS does (header
// Herald-Enc-<base64url(key)>, value base64) and comes back exactly,
// never replacing the ID.
// Keyless records stick to one partition per ~16 KiB (franz-go's
// UniformBytesPartitioner) so that concurrent sends share batches.
//
// # Topics
//
// The Topic and the Subscription create a topic the first time they use
// it (Send, Prepare, Open), with the configured partitions, replication
// factor and max.message.bytes, and wait until every partition has a
// leader (an existing topic is used as it is; without the right to create
// topics, an existing topic is enough). Prepare creates the topic ahead of
// the first Open, so that a group starting at the oldest record keeps
// what is published from then on; for a group with start=newest
// it also commits the current end offsets of the partitions the group has
// no commit for (a group with live members refuses that, and needs it
// not).
//
// On a cluster of 3 or more brokers (counted in the metadata, which lists
// the live ones) a topic Herald creates gets replication factor 3 and
// min.insync.replicas 2: with acks=all (the default) a record is
// acknowledged only once it is on at least two brokers, and the topic
// keeps taking writes and serving reads while any one broker is down. A
// smaller cluster, or a single broker, gets the broker's defaults. See
// docs/guarantees.md, "Durability".
//
// # Publishing
//
// Send hands the record to franz-go's Produce with Send's ctx as the
// record's context and returns; the promise calls done. A record sent
// while none is in flight goes at once; one sent while others are waits
// up to 100 µs (or until 64 wait) for more to join it, so that
// concurrent synchronous publishers share produce requests: franz-go
// (no linger) otherwise sends one as soon as a request slot is free, and
// the broker's CPU per request, not the network, limits them (16
// goroutines calling Publish: 2.6 records per request before, 8-16
// after; TestConcurrentSendsShareRequests). There is no
// publish timeout, retry count or publish window of the driver's own:
// the facade's deadline is in ctx (franz-go retries until it ends), the
// facade's async window bounds what is in flight (franz-go's own buffer
// limit is set far above it), and a Send never waits for buffer space.
// Only the first Send to a topic waits, within ctx, for the topic to be
// created and its leaders known. done gets:
//
//	nil                  the broker acknowledged the record (acks as configured)
//	KindUnreachable      ctx ended before the record was written: the broker does not have it
//	KindOutcomeUnknown   the record was written and not answered before ctx ended (or before
//	                     Close gave up), or the broker answered that it may have it
//	                     (NOT_ENOUGH_REPLICAS_AFTER_APPEND, REQUEST_TIMED_OUT): publishing it
//	                     again may duplicate it
//	KindTooLarge         over max_message_bytes, or the topic's max.message.bytes
//	KindDenied           an ACL refused it (the error names the user and the ACL)
//	KindInvalid          a topic name Kafka does not allow (Send returns it at once)
//	KindClosed           Close came first and the record was never sent
//
// franz-go fails a partition's buffered records together when the first
// one's context ends (it cannot skip one without breaking the
// partition's sequence); those are KindUnreachable too. The idempotent
// producer (the default) never fails a record whose request awaits an
// answer, so a record failed for its context was not stored; when ctx
// ended and franz-go still holds the record 250 ms later, it was written
// and done gets KindOutcomeUnknown then, and franz-go keeps trying in the
// background. Without idempotence (acks=leader or none, or
// idempotent=false) franz-go may fail a record in flight: a record failed
// after any produce request was written since it was taken is
// KindOutcomeUnknown. Records of one key sent in order on one Topic are
// stored in that order.
//
// Close stops taking records and waits within its ctx for the answers;
// then the records never written fail with KindClosed, those written and
// not answered with KindOutcomeUnknown, and Close returns an error of
// KindUnreachable.
//
// # Consuming
//
// Each Open is a franz-go consumer of its own: a member of the group (or,
// without a group, a private consumer reading every partition directly,
// from the end unless start=oldest, committing nothing; it does
// not read partitions added later). Open returns once the consumer is
// ready: the member joined its group (up to 75 s) and, with
// start=newest, the starting offsets are pinned, so a record
// published after Open returned is delivered. With the cooperative
// balancer, a member that joins a busy group may be ready before it owns
// partitions: they come in the next rebalance, once the other members
// committed what they settled.
//
// A stream keeps at most StreamOptions.Window records polled and not
// settled (queued in the driver or handed out by Receive); Receive
// blocks while the window is full. Acks come in any order. Each
// partition's commit offset is its watermark: the offset after the
// longest prefix of settled records, with the leader epoch of the
// prefix's last record (as the Java client commits; franz-go ignores a
// commit with epoch -1 after one with a real epoch). It is marked every
// 200 ms and committed every 250 ms, when a partition is revoked and on
// Close; it never passes an unsettled record.
//
// What holds on a failed handler: Kafka cannot redeliver one record, so
// the facade handles it again itself after its delay (RedeliverLocal),
// before the later records of its key; Nack is never called. Until it
// succeeds the record stays unsettled: it holds its partition's commit
// (records after it, of other keys, are handled and acked, but not
// committed past it) and one place of the window. A process that stops
// meanwhile gets it again, with the later records, from the commit. (Nack
// called anyway takes the record out of the window unsettled: its
// partition's commit stays behind it until the partition moves or the
// stream reopens.)
//
// What holds on a revoke (a rebalance moves a partition away): the
// partition's records queued in the driver are dropped; the revoke waits
// up to 10 s for its records handed out to be settled, commits the
// watermark, and ends the assignment. From then on those records are not
// Valid (the facade skips them), their acks do nothing, and the new owner
// gets every record after the commit. A handler already running when the
// wait ends runs on, and its record may be handled by the new owner too.
// A lost partition (the group session ended: franz-go's onLost) ends its
// assignment at once, without a commit. Each assignment of a partition
// has a state of its own (in Token.Ref): a record of an earlier
// assignment is never Valid again, even when the partition comes back.
//
// A member cut off from the group coordinator cannot learn that the
// broker expired its session, while the group gives its partitions to
// another member. The stream therefore watches the heartbeats answered:
// once none was for session_timeout (less a tenth, at most a second),
// every assignment ends as if lost and Receive returns an error of
// KindUnreachable, so the facade opens a new member, which starts from
// the group's commits. Measured: the other member got the partition 6.0 s
// after the cut with session_timeout=6s, when the first member's records
// were already not Valid.
//
// Close stops polling, commits what was settled, leaves the group (its
// partitions move at once) and closes the client, within its ctx (5 s
// without a deadline). A broken stream leaves without committing.
//
// # Status and logging
//
// A stream reports its health through StreamOptions.Status: the first
// error of an outage (a failed connection, a fetch error, a group error,
// partitions lost, the topic deleted), and each new distinct one, as a
// *herald.Error (backend kafka, op "subscribe to", the topic; mostly
// KindUnreachable, KindDenied for an ACL), and nil once it receives again
// (records fetched, partitions assigned again, or the topic's leaders
// answer and the member holds its assignment). franz-go reconnects and
// rejoins by itself meanwhile. The driver logs at debug level only, on
// adapters.Env.Logger: the facade logs an outage once.
//
// # Hand-over
//
// A member that stops cleanly commits and leaves the group: its
// partitions move at once (0.5 s measured by the chaos harness). A member
// that dies cannot leave: the broker moves its partitions once its
// session times out, so they sit idle for session_timeout (10 s by
// default, heartbeats every second from a goroutine of franz-go's own;
// the broker allows 6 s to 5 min). Measured (chaos harness, one member of
// three SIGKILLed at 1000 msg/s): 45 s session timeout: 45.7 s idle;
// 10 s: 10.5-11.0 s; 6 s: 6.1 s. Duplicates after a crash are the records
// the dead member had settled but not committed yet (up to about half a
// second of them). Kafka 4's consumer group protocol (KIP-848) does not
// shorten this (its session timeout is the broker's, 45 s by default):
// Herald stays on the classic protocol with franz-go's cooperative-sticky
// balancer.
//
// # Errors
//
// Every error is a *herald.Error: "herald/kafka: <operation> "<topic>":
// <cause>" (operations: publish to, subscribe to, prepare, close; "open
// publisher on [brokers]" and "open subscriber on [brokers]" without a
// topic), with its Kind (match it with errors.Is against
// herald.ErrUnreachable, ErrOutcomeUnknown, ErrDenied, ErrTooLarge,
// ErrInvalid, ErrClosed) and franz-go's error as the cause (kerr). When
// the brokers cannot be reached at open, the cause names the likely
// reason where it can tell: SASL against a listener without SASL, TLS to
// a plaintext listener, plaintext to a TLS listener (KindInvalid: the
// driver connects again without the suspect setting to find out), a
// certificate or credentials refused (KindDenied); otherwise
// KindUnreachable. Topic and group names are used as given; Kafka allows
// topic names of 1 to 249 letters, digits, '.', '_' and '-' (checked
// before any request).
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
// returns at once, without probing or waiting, with an error of KindDenied
// naming what failed:
//
//	herald/kafka: open publisher on [b1:9094]: b1:9094: TLS: broker certificate signed by unknown authority (tls_ca=/etc/herald/ca.pem did not sign it): ...
//	herald/kafka: open publisher on [b1:9094]: b1:9094: TLS: the broker refused the handshake (no client certificate given: the listener probably requires one ...): remote error: tls: bad certificate
//	herald/kafka: open publisher on [b1:9094]: b1:9094: authentication failed for user "app" (check the password; sasl=SCRAM-SHA-512): SASL_AUTHENTICATION_FAILED: ...
//
// An operation the ACLs refuse fails at once too, naming the user and the
// ACL it needs: a publish on TOPIC_AUTHORIZATION_FAILED
// (WRITE and DESCRIBE on the topic) or CLUSTER_AUTHORIZATION_FAILED (the
// idempotent producer, on with acks=all, needs WRITE on the topic or
// IDEMPOTENT_WRITE on the cluster; creating a topic needs CREATE),
// opening a stream on GROUP_AUTHORIZATION_FAILED (READ on the group), all of
// KindDenied:
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
// Smoke figures of the bench module (one round, n=5000, 1 KiB, one local
// Kafka 4.4 broker, 2 cores shared with other work, so only indicative;
// measured before the driver contract):
//
//	cd bench && go run . -brokers kafka -sizes 1024 -n 5000 -rounds 1
//
//	case                                       end-to-end msg/s   allocs/msg
//	native franz-go, 256 in flight                         76.4k          3.1
//	native franz-go, 16 sync callers                       12.1k         26.3
//	watermill-kafka stock, 16 publishers                   16.1k         60.7
//	Herald on Sarama, 16 sync publishers                    4.31k        85.8
//	Herald on franz-go, 16 sync publishers, 8 handlers     14.6k         62.1
//	Herald on franz-go, Publish of 100 per call            65.0k         32.6
//
// The driver alone: bench_test.go (BenchmarkDriverSend, Send16, Stream).
//
// # Escape hatch
//
// The Topic and the Subscription implement As (the publisher's and
// subscriber's As reach them):
//
//	var client *kgo.Client
//	if pub.As(&client) { ... }
//
//	Topic         **kgo.Client    the franz-go client that produces
//	              **kadm.Client   an admin client on it (creates topics)
//	Subscription  **kgo.Client    the subscription's metadata and admin client
//	              **kadm.Client   the admin client that creates topics
//
// Each stream has a client of its own, not reachable through As. Do not
// close what As returns.
package kafka
