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
//     cloudEvents: headers with native AMQP types. There is no sdk-go
//     test on RabbitMQ: sdk-go's AMQP binding (protocol/amqp/v2, AMQP 1.0
//     only) is not served by the Go module proxy this project reaches
//     ("reading .../protocol/amqp/v2/@v/v2.16.2.zip: 403 Forbidden ...
//     This module version is not available"; its version list: 404), the
//     shared RabbitMQ 3.10 has no AMQP 1.0 plugin enabled, and with the
//     plugin 3.10 carries CloudEvents between AMQP 0-9-1 and 1.0 in
//     structured mode only (docs/interop.md, "AMQP 1.0").
//
// sdk-go has no franz-go binding (sdk-go issue #1233, PR #1277, both open):
// Herald's Kafka backend with package cloudevents is that path.
//
// Run it from the repository root with scripts/test.sh ./cloudevents/...
// (brokers come from HERALD_TEST_KAFKA and HERALD_TEST_NATS).
package cetest
