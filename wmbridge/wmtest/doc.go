// Package wmtest holds the tests of package wmbridge that need more than
// Watermill's core: Watermill's universal Pub/Sub suite (pubsub/tests,
// with testify) on Herald's five backends, a Watermill Router on each,
// and watermill-kafka (Sarama) and watermill-sql (PostgreSQL) as Herald
// backends through the conformance suite. It is a module of its own so
// that the library's go.mod does not require them.
//
//	cd wmbridge/wmtest && go test ./...
//
// Broker tests read HERALD_TEST_KAFKA, HERALD_TEST_AMQP, HERALD_TEST_NATS
// and HERALD_TEST_POSTGRES (scripts/brokers.sh up prints them); they skip
// when one is unset, and fail instead under HERALD_REQUIRE_BROKERS=1.
package wmtest
