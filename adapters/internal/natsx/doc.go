// Package natsx is the JetStream engine shared by Herald's nats and
// embedded adapters: settings, header mapping, stream provisioning, a
// publisher that pipelines PubAcks and a pull-consumer subscriber.
//
// It is internal: its API may change at any time. Users configure it
// through the options documented in the adapters/nats package.
package natsx
