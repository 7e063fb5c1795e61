// Package securetest holds the TLS and authentication tests of the
// kafka, amqp and nats adapters against secured brokers of its own: a
// Kafka broker with a SASL_SSL listener (SCRAM-SHA-512, client
// certificates, ACLs), a RabbitMQ node with an amqps listener and vhost
// permissions, and NATS servers with TLS, users, permissions and an nkey
// user. The certificates come from adaptertest/certs. See
// docs/security.md.
//
// The package has no code of its own: everything is in its tests. The
// brokers listen on 127.0.0.1, ports 17000-17999, and are stopped, by the
// PID the tests started, when the tests end. -short skips every test;
// under HERALD_REQUIRE_BROKERS=1 a broker that cannot start fails them.
package securetest
