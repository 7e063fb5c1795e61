package rabbitmq

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/heraldkit/herald/internal/names"
)

// Names (see "Topology" in the package documentation) come from the one
// encoding of package internal/names:
//
//	topic               -> exchange <topic>
//	topic + group       -> queue <topic>.<escaped group>
//	topic, no group     -> queue <topic>.%private-<id>
//
// The escaped group holds no "." ("." is written %2E and "%" is %25), so
// the last "." of a group queue's name separates topic and group: two
// different (topic, group) pairs never share a queue. A name over
// RabbitMQ's 255 bytes keeps its first bytes and ends with ".%h" and 32
// hex digits of the SHA-256 of the full name.
const (
	// maxNameLen is RabbitMQ's limit for exchange and queue names, in
	// bytes of UTF-8.
	maxNameLen = names.MaxAMQP
	// reservedPrefix starts the names RabbitMQ keeps for itself.
	reservedPrefix = "amq."
)

// queueName returns the queue a subscriber with group (or, without a
// group, with the private ID) consumes topic from.
func queueName(topic, group, privateID string) string {
	if group == "" {
		return names.PrivateQueue(topic, privateID)
	}
	return names.Queue(topic, group)
}

// checkTopic rejects topic names RabbitMQ cannot use as an exchange name,
// before the broker closes the channel over them. The error says which
// rule the name breaks; callers prefix it with the operation.
func checkTopic(topic string) error {
	switch {
	case topic == "":
		return fmt.Errorf("empty topic (RabbitMQ's default exchange has no name)")
	case len(topic) > maxNameLen:
		return fmt.Errorf("topic is %d bytes, longer than RabbitMQ's %d for an exchange name", len(topic), maxNameLen)
	case !utf8.ValidString(topic):
		return fmt.Errorf("topic is not valid UTF-8")
	case strings.HasPrefix(topic, reservedPrefix):
		return fmt.Errorf("topic starts with %q: names starting so are reserved by RabbitMQ", reservedPrefix)
	case strings.HasPrefix(topic, delayPrefix):
		return fmt.Errorf("topic starts with %q: names starting so are the delay tiers' (delayed delivery)", delayPrefix)
	}
	return nil
}
