// Package wmtest holds the tests of package wmbridge that need more than
// Watermill's core, in a module of its own so that the library's go.mod
// does not require watermill-kafka, watermill-sql, Sarama or pgx:
//
//   - Watermill's universal Pub/Sub suite (pubsub/tests) on Herald's five
//     backends (mem, embedded, nats, kafka, amqp) through wmbridge, with
//     the Features their Capabilities give (Features) and the suite's
//     short message counts;
//   - a Watermill Router with Watermill's middleware on each of them;
//   - watermill-kafka on Sarama (SaramaKafka, scheme wmkafka) and
//     watermill-sql on PostgreSQL (PostgreSQL, scheme wmsql) as Herald
//     backends through the conformance suite (adapters/adaptertest), as far
//     as their declared capabilities go;
//   - a plain watermill-kafka application and Herald's Kafka backend
//     reading each other's messages;
//   - what a failed Publish means on RabbitMQ when the connection is cut
//     (ErrOutcomeUnknown: maybe stored; ErrUnreachable: not stored).
//
// Run it from the repository root with scripts/test.sh ./wmbridge/..., or
//
//	cd wmbridge/wmtest && go test ./...
//
// Broker tests read HERALD_TEST_KAFKA, HERALD_TEST_AMQP, HERALD_TEST_NATS
// and HERALD_TEST_POSTGRES (scripts/brokers.sh env prints them; start
// PostgreSQL alone with scripts/brokers.sh up postgres); they skip with a
// hint when one is unset, and fail instead under HERALD_REQUIRE_BROKERS=1.
// HERALD_TEST_WM_RECONNECT=1 also runs the universal suite's
// TestReconnect on RabbitMQ (see TestReconnectAMQP for why it is not run
// by default).
package wmtest
