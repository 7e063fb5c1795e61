// Package cetest holds the interop tests of package cloudevents with
// github.com/cloudevents/sdk-go v2.16.2, in a module of its own so that
// the library's go.mod does not require sdk-go, Sarama or their
// dependencies:
//
//   - Kafka: sdk-go's Sarama binding (protocol/kafka_sarama/v2) and
//     Herald's Kafka backend (franz-go) read each other's events, binary
//     and structured mode, every attribute and extension, the record key
//     from the partitionkey extension;
//   - NATS JetStream: sdk-go's protocol/nats_jetstream/v2 and Herald's
//     NATS backend, the same, plus what percent-encoding does between
//     them (sdk-go v2.16.2 neither encodes nor decodes header values);
//   - RabbitMQ (AMQP 0-9-1): a plain amqp091-go client sees Herald's
//     cloudEvents_ headers, and Herald reads a plain client's
//     cloudEvents: headers with native AMQP types;
//   - RabbitMQ (AMQP 1.0, through its rabbitmq_amqp1_0 plugin, which
//     scripts/brokers.sh enables): github.com/Azure/go-amqp, the client
//     sdk-go's AMQP binding is built on, with messages laid out as that
//     binding writes them (the binding, protocol/amqp/v2, is not served
//     by the Go module proxy this project reaches: "403 Forbidden ...
//     This module version is not available"). Structured mode crosses
//     both ways; binary mode from 1.0 to Herald (through RabbitMQ 3.10's
//     x-amqp-1.0-app-properties header); binary mode from Herald to 1.0
//     loses every attribute on RabbitMQ 3.10 to 3.12, a loss the tests
//     pin (docs/interop.md, "AMQP 1.0").
//
// sdk-go has no franz-go binding (sdk-go issue #1233, PR #1277, both open):
// Herald's Kafka backend with package cloudevents is that path.
//
// Run it from the repository root with scripts/test.sh ./cloudevents/...
// (brokers come from HERALD_TEST_KAFKA, HERALD_TEST_NATS and HERALD_TEST_AMQP;
// HERALD_TEST_AMQP10 overrides the AMQP 1.0 address, by default
// HERALD_TEST_AMQP's host, port and credentials).
package cetest
