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
// end of its group's queue; a nack with a delay (adapters.SetNackDelay,
// herald.RetryAfter) is held aside for that delay, without holding back
// the group's other messages, and then goes back to the end of the queue
// (held messages are dropped with their group, like queued ones). With
// one subscriber of concurrency 1 and no nacks, messages arrive in
// publish order. Groups are keyed by topic and group name as they are
// (no derived names), and a subscriber without a group never shares one
// with a named group.
//
// Each group buffers up to "buffer" messages (default 1024); when the
// buffer is full, Publish waits until a subscriber takes a message, which
// gives natural backpressure. The publisher implements
// adapters.ContextPublisher: a publish waiting for a full buffer ends with
// its context (the message is then not queued for that group). The bus is
// in the process, so it is never unreachable.
//
// The bus implements the fast paths with the same semantics as the
// brokers, as the reference for the facade's tests. A Stream
// (adapters.StreamSubscriber) is a member of the group that takes up to
// its window of messages before any is settled; a nack puts the message
// back at the end of the queue (after its delay, held by a timer), Close
// puts back the unsettled ones in delivery order, and Attempt is 0 (the
// bus does not count deliveries). PublishAsync (adapters.AsyncPublisher)
// takes up to 256 messages; one goroutine per publisher queues them in
// order and calls done (after Close, with herald.ErrClosed).
//
// # Errors
//
// Errors read herald/mem: <op> "<topic>": <cause>, and every method called
// after Close (Publish, PublishContext, Subscribe, SubscribeInitialize)
// returns an error wrapping herald.ErrClosed. As gives the bus's
// **gochannel.GoChannel.
//
// # Options
//
//	buffer   messages queued per group before Publish waits (1..1048576, default 1024)
package memory
