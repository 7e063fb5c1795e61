// Package outboxtest tests package outbox against real databases:
// PostgreSQL (through pgx's database/sql driver; HERALD_TEST_POSTGRES,
// started by scripts/brokers.sh) and SQLite (modernc.org/sqlite, a file in
// a temporary directory), forwarding to mem://, a probe backend that
// records every send, and NATS JetStream (HERALD_TEST_NATS).
//
// It is a module of its own so that the library's go.mod names no
// database driver. Without HERALD_TEST_POSTGRES the PostgreSQL tests skip
// with a hint; under HERALD_REQUIRE_BROKERS=1 they fail.
package outboxtest
