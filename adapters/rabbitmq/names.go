package rabbitmq

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Names (see "Topology" in the package documentation):
//
//	topic               -> exchange <topic>
//	topic + group       -> queue <topic>.<escaped group>
//	topic, no group     -> queue <topic>.%private-<id>
//
// The escaped group holds no "." ("." is written %2E and "%" is %25), so
// the last "." of a group queue's name separates topic and group: two
// different (topic, group) pairs never share a queue. "%" in the escaped
// group is always followed by "25" or "2E", so the private marker
// "%private-" and the hash marker "%h" never come out of a group. A name
// over RabbitMQ's 255 bytes keeps its first bytes and ends with "%h" and
// 32 hex digits of the SHA-256 of the full name.
const (
	// maxNameLen is RabbitMQ's limit for exchange and queue names, in
	// bytes of UTF-8.
	maxNameLen = 255
	// privateMarker follows the topic's "." in a private queue's name.
	privateMarker = "%private-"
	// hashMarker introduces the hash that ends a shortened name.
	hashMarker = ".%h"
	// reservedPrefix starts the names RabbitMQ keeps for itself.
	reservedPrefix = "amq."
)

var groupEscaper = strings.NewReplacer("%", "%25", ".", "%2E")

// queueName returns the queue a subscriber with group (or, without a
// group, with the private ID) consumes topic from.
func queueName(topic, group, privateID string) string {
	var q string
	if group == "" {
		q = topic + "." + privateMarker + privateID
	} else {
		q = topic + "." + groupEscaper.Replace(group)
	}
	return shorten(q)
}

// shorten returns name unchanged when it fits RabbitMQ's limit, else its
// longest prefix that ends on a rune boundary and leaves room for the
// hash marker and 32 hex digits of SHA-256(name).
func shorten(name string) string {
	if len(name) <= maxNameLen {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	suffix := hashMarker + hex.EncodeToString(sum[:16])
	keep := maxNameLen - len(suffix)
	for keep > 0 && !utf8.RuneStart(name[keep]) {
		keep--
	}
	return name[:keep] + suffix
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
	}
	return nil
}
