// Package memory registers the "mem" scheme: an in-process message bus
// (an adapters.Driver with no client underneath), for tests and
// single-process applications.
//
//	mem://            the default bus
//	mem://orders      a bus named "orders"
//
// Every Open with the same name in one process reaches the same bus, so a
// publisher and a subscriber opened separately talk to each other. The bus
// is created by its first user and ends, with every message it holds,
// when its last publisher and subscriber are closed.
//
// # Capabilities
//
//	Durable         false: messages live in the process
//	Groups          true
//	Redelivery      RedeliverLocal: a failed message stays with its
//	                subscriber, which handles it again before later
//	                messages of its key (the facade does it)
//	NackDelay       false, CountsAttempts false (Attempt is the subscriber's)
//	Order           OrderQueue: a group's queue is FIFO
//	DefaultWindow   256
//	SingleProcess   true
//	Delay           Max about 292 years, Precision 50 ms, Ordered, not
//	                Durable (see Delayed delivery)
//
// # Semantics
//
// Groups work as on the brokers: subscribers in one group share a topic's
// messages; each group, and each subscriber without a group, gets every
// message. A named group exists from the first Prepare or Subscribe and
// lives as long as the bus: messages published while it has no member
// wait for its next member. A message published to a topic with no group
// is dropped, as a broker drops a message no queue is bound to. A
// subscriber without a group has a group of its own that ends with it.
// Groups are keyed by topic and group name as they are (no derived
// names), and a subscriber without a group never shares one with a named
// group.
//
// A stream takes up to its window of messages before any is settled.
// When a stream closes (the subscriber's Close, or the facade reopening
// it), its unsettled messages go back to the head of the group's queue in
// delivery order, so another member (or the next one) gets them first.
//
// Each group queues up to "buffer" messages (default 1024); when a queue
// is full, Send waits until a member takes a message (natural
// backpressure) or until its context ends: the publish then fails with
// herald.ErrUnreachable naming the full queue, and the message is not
// queued for that group. The bus is in the process, so it is otherwise
// never unreachable.
//
// # Delayed delivery
//
// A delayed Send (publisher.PublishAt, PublishAfter) holds a copy of the message
// in the bus until its time, then queues it for every group the topic has
// at that time, as Send does; messages with equal delivery times are
// delivered in the order sent. The held messages are NOT durable: they
// live in the process and end with the bus (when its last publisher and
// subscriber close), and a restart of the process loses them. The bus
// reads the time through a clock of its own (an unexported seam, real
// time by default), which a test harness can replace to advance time.
//
// # Errors
//
// Errors are *herald.Error values with Backend "mem": every operation on
// a closed publisher or subscriber matches herald.ErrClosed, an empty
// topic herald.ErrInvalid. As reports false: the bus has no client
// object.
//
// # Options
//
//	buffer   messages queued per group before Send waits (1..1048576, default 1024)
package memory
