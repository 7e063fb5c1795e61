package natsx

import (
	"errors"
	"strings"

	"github.com/heraldkit/herald/internal/names"
)

// CheckTopic returns an error unless topic is a valid NATS subject to
// publish to: dot-separated non-empty tokens, no whitespace or control
// characters, no wildcards, and not under _herald_delay (the schedule
// subjects of delayed delivery).
func CheckTopic(topic string) error {
	if topic == "" {
		return errors.New("topic is empty")
	}
	if strings.HasPrefix(topic, delayPrefix) || topic == delayPrefix[:len(delayPrefix)-1] {
		return errors.New("topic's first token is _herald_delay, which holds the schedules of delayed delivery")
	}
	// Token by token, without allocating (it runs on every publish).
	start := 0
	for i := 0; i <= len(topic); i++ {
		if i < len(topic) && topic[i] != '.' {
			continue
		}
		tok := topic[start:i]
		if tok == "" {
			return errors.New("topic has an empty token (leading, trailing or double '.')")
		}
		if tok == "*" || tok == ">" {
			return errors.New("topic contains a wildcard token (* or >); publish and subscribe to concrete subjects")
		}
		start = i + 1
	}
	for _, r := range topic {
		if r <= ' ' || r == 0x7f {
			return errors.New("topic contains whitespace or a control character")
		}
	}
	return nil
}

// Names of streams and consumers come from the one encoding of package
// internal/names: an injective encoding of topics and groups into the
// characters NATS accepts in names (letters, digits, '-' and '_'), so two
// different topics never share a stream and two different (group, topic)
// pairs never share a consumer, whatever characters they hold:
//
//   - letters, digits and '-' stay as they are;
//   - '.' becomes "__";
//   - every other byte ('_' included) becomes '_' and two upper-case hex
//     digits: '_' is "_5F", '/' is "_2F".
//
// So orders.created -> orders__created, eu_billing -> eu_5Fbilling. A
// group's consumer on a stream shared by several topics is named
// "<group>_-<topic>", both encoded; a private consumer is
// "herald_p<random>", with "_-<topic>" on a shared stream. A name longer
// than 200 bytes is cut and ends with "_x" and a 64-bit hash of the whole
// name.
const (
	maxName    = names.MaxJetStream // the server allows 255 bytes
	hashMarker = "_x"
)

// StreamName is the name of the stream Herald creates for topic alone.
func StreamName(topic string) string { return names.Stream(topic) }

// legacyStreamName is the name earlier versions gave a topic's stream
// (every character but letters, digits, '-' and '_' became '_'); such a
// stream is still recognised as the topic's own.
func legacyStreamName(topic string) string {
	var b strings.Builder
	for _, r := range topic {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// GroupConsumerName is the durable consumer of group for topic: the group
// alone on the topic's own stream (dedicated), the pair on a shared one.
func GroupConsumerName(group, topic string, dedicated bool) string {
	return names.Consumer(group, topic, dedicated)
}

// PrivateConsumerName is the consumer private to the subscriber with the
// given id (letters and digits) for topic.
func PrivateConsumerName(id, topic string, dedicated bool) string {
	return names.PrivateConsumer(id, topic, dedicated)
}

// ValidName reports whether s can be used as a stream name as it is:
// letters, digits, '-' and '_', at most 200 bytes.
func ValidName(s string) bool { return names.ValidJetStream(s) }

// subjectMatches reports whether subject is matched by pattern, which may
// hold the wildcards '*' (one token) and '>' (one or more tokens, last).
func subjectMatches(pattern, subject string) bool {
	pt := strings.Split(pattern, ".")
	st := strings.Split(subject, ".")
	for i, p := range pt {
		if p == ">" {
			return len(st) > i
		}
		if i >= len(st) || (p != "*" && p != st[i]) {
			return false
		}
	}
	return len(pt) == len(st)
}

// covers reports whether one of subjects matches subject.
func covers(subjects []string, subject string) bool {
	for _, s := range subjects {
		if subjectMatches(s, subject) {
			return true
		}
	}
	return false
}
