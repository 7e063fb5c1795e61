package natsx

import (
	"fmt"
	"hash/fnv"
	"strings"
)

// maxName bounds stream and consumer names (the server allows 255 bytes).
const maxName = 200

// CheckTopic returns an error unless topic is a valid NATS subject to
// publish to: dot-separated non-empty tokens, no whitespace or control
// characters, no wildcards.
func CheckTopic(topic string) error {
	if topic == "" {
		return fmt.Errorf("herald/nats: topic is empty")
	}
	for _, tok := range strings.Split(topic, ".") {
		if tok == "" {
			return fmt.Errorf("herald/nats: topic %q has an empty token (leading, trailing or double '.')", topic)
		}
		if tok == "*" || tok == ">" {
			return fmt.Errorf("herald/nats: topic %q contains a wildcard token; publish and subscribe to concrete subjects", topic)
		}
	}
	for _, r := range topic {
		if r <= ' ' || r == 0x7f {
			return fmt.Errorf("herald/nats: topic %q contains whitespace or a control character", topic)
		}
	}
	return nil
}

// Name turns s into a valid stream or consumer name: characters other than
// letters, digits, '-' and '_' become '_'; a name that would be too long
// is shortened and suffixed with a hash of s.
func Name(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	n := b.String()
	if len(n) > maxName {
		h := fnv.New64a()
		h.Write([]byte(s))
		n = fmt.Sprintf("%s_%016x", n[:maxName-17], h.Sum64())
	}
	return n
}

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
