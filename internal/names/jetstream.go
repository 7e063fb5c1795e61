package names

// JetStream names (see the package documentation):
//
//	topic                        -> stream <topic, escaped>
//	group, on the topic's stream -> durable consumer <group, escaped>
//	group, on a shared stream    -> durable consumer <group, escaped>_-<topic, escaped>
//	private subscriber           -> consumer herald_p<id>, with _-<topic, escaped> on a shared stream
//
// An escaped part is a sequence of tokens: a kept byte, "__" ('.'), or
// '_' and two hex digits. "_-" is none of them, and "herald_p" holds "_p",
// which is none either: read token by token from the left, a name splits
// into its parts in one way only, and a private consumer's name is no
// group's.
const (
	// MaxJetStream bounds stream and consumer names (the server allows
	// 255 bytes; 200 leaves room for the server's own prefixes).
	MaxJetStream = 200
	jsPairSep    = "_-"
	jsPrivate    = "herald_p"
)

var jetstream = &encoding{
	keep: func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-'
	},
	esc:         '_',
	short:       map[byte]string{'.': "__"},
	max:         MaxJetStream,
	marker:      "_x",
	sum:         fnv64Hex,
	escapeUnits: true,
}

// Stream is the name of the stream Herald creates for topic alone.
func Stream(topic string) string { return jetstream.fit(jetstream.part(topic)) }

// Consumer is the durable consumer of group for topic: the group alone on
// the topic's own stream (dedicated), the pair on a shared one.
func Consumer(group, topic string, dedicated bool) string {
	if dedicated {
		return jetstream.fit(jetstream.part(group))
	}
	return jetstream.fit(jetstream.part(group) + jsPairSep + jetstream.part(topic))
}

// PrivateConsumer is the consumer of the private subscriber with the
// given id (letters and digits) for topic.
func PrivateConsumer(id, topic string, dedicated bool) string {
	if dedicated {
		return jetstream.fit(jsPrivate + id)
	}
	return jetstream.fit(jsPrivate + id + jsPairSep + jetstream.part(topic))
}

// ValidJetStream reports whether s is a name Herald gives or accepts for
// a stream or consumer: letters, digits, '-' and '_', 1 to 200 bytes
// (the server refuses '.', '*', '>', '/', '\', whitespace and control
// characters in names).
func ValidJetStream(s string) bool {
	if s == "" || len(s) > MaxJetStream {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || jetstream.keep(c)) {
			return false
		}
	}
	return true
}
