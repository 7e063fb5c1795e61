package names

import "unicode/utf8"

// RabbitMQ names (see the package documentation):
//
//	topic + group      -> queue <topic>.<group, escaped>
//	topic, no group    -> queue <topic>.%private-<id>
//
// The escaped group holds no "." ("." is %2E, "%" is %25), so the last
// "." of a group queue's name separates topic and group. "%" in an
// escaped group is always followed by two hex digits, so "%private-" and
// the hash marker ".%h" never come out of a group.
const (
	// MaxAMQP is RabbitMQ's limit for exchange and queue names, in bytes.
	MaxAMQP = 255
	// amqpPrivate follows the topic's "." in a private queue's name.
	amqpPrivate = "%private-"
)

var amqp = &encoding{
	keep:   func(c byte) bool { return c != '.' },
	esc:    '%',
	max:    MaxAMQP,
	marker: ".%h",
	sum:    sha256Hex,
}

// Queue is the durable queue of group for topic.
func Queue(topic, group string) string { return amqp.fit(topic + "." + amqp.part(group)) }

// PrivateQueue is the queue of the private subscriber with the given id
// (letters and digits) for topic.
func PrivateQueue(topic, id string) string { return amqp.fit(topic + "." + amqpPrivate + id) }

// ValidAMQP reports whether RabbitMQ accepts s as a queue name Herald
// declares: 1 to 255 bytes of UTF-8, not starting with "amq." (reserved).
func ValidAMQP(s string) bool {
	return s != "" && len(s) <= MaxAMQP && utf8.ValidString(s) && !(len(s) >= 4 && s[:4] == "amq.")
}
