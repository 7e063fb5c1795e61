// Package memory registers the "mem" scheme: an in-process message bus on
// Watermill's gochannel, for tests and single-process applications.
//
//	mem://            the default bus
//	mem://orders      a bus named "orders"
//
// Every Open with the same name in one process reaches the same bus, so a
// publisher and a subscriber opened separately talk to each other. The bus
// is created by its first user and shut down with its last.
//
// # Semantics
//
// The bus is not durable: a message published to a topic that has no
// subscriber is dropped, and messages waiting for a group when its last
// subscriber leaves are lost. Groups work as on the brokers: subscribers in
// one group share a topic's messages; each group, and each subscriber
// without a group, gets every message. A nacked message goes back to the
// end of its group's queue. With one subscriber of concurrency 1 and no
// nacks, messages arrive in publish order.
//
// Each group buffers up to "buffer" messages (default 1024); when the
// buffer is full, Publish waits until a subscriber takes a message, which
// gives natural backpressure.
//
// # Options
//
//	buffer   messages queued per group before Publish waits (1..1048576, default 1024)
package memory
