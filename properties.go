package herald

import "time"

// Properties are the broker properties of a published message that are
// not metadata: publisher.PublishWith and PublishAsyncWith set them for
// the messages of one call. Each field is honoured only by the backends
// that declare it (adapters.Capabilities.Properties; docs/guarantees.md
// has the table); a non-zero field on a backend without it is refused
// with a *Error of KindInvalid naming the backend, before anything is
// sent. The zero value sets nothing.
//
// They are not metadata on purpose: a metadata entry is a header both
// ways, so a consumed message published again (a dead letter, a bridge)
// keeps every header and sets no property by accident. The consume side
// reports the properties it reads in Delivery.Time and, where a backend
// documents it, in metadata entries that are ordinary headers when
// published again.
type Properties struct {
	// Time is the message's timestamp as the broker carries it: the Kafka
	// record timestamp (milliseconds), the AMQP timestamp property (whole
	// seconds). Zero: the publish time. Consumers read it as
	// Delivery.Time.
	Time time.Time
	// TTL is how long the message may wait in a queue before the broker
	// drops or dead-letters it: the AMQP expiration property (whole
	// milliseconds, at most 2^32-1). Zero: no expiry. It cannot be
	// combined with a delivery time on RabbitMQ (its delay tiers hold a
	// message by TTL).
	TTL time.Duration
	// Type is the message type name: the AMQP type property (at most 255
	// bytes).
	Type string
}

// IsZero reports whether p sets nothing.
func (p Properties) IsZero() bool {
	return p.Time.IsZero() && p.TTL == 0 && p.Type == ""
}
