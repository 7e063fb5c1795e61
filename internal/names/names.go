// Package names is Herald's one encoding of topics, groups and
// subscriber ids into the names of the broker objects it creates:
// RabbitMQ queues, JetStream streams and consumers. Every derived name
// comes from here, so that two different inputs never share a queue or
// a consumer, and every name is one the broker accepts.
//
// The scheme is the same for every broker, with the broker's alphabet:
//
//   - A part (a group, a topic where it must be escaped) keeps the bytes
//     the broker allows in a name, except the escape byte and the
//     separator, and writes every other byte as the escape byte and two
//     upper-case hex digits. The escape byte always starts an escape, so
//     the encoding of a part is injective and never holds the separator.
//   - Parts are joined with a separator that cannot occur at a token
//     boundary inside an encoded part, so a name splits back into its
//     parts in one way only.
//   - A name over the broker's limit keeps its longest prefix that ends
//     on a whole character or escape, then a marker that no name of
//     normal length holds, then a hash of the whole name: two long names
//     share a name only if their hashes collide.
//
// The parameters of each broker are those the earlier versions used, so
// existing queues, streams and durable consumers keep their names (a
// renamed durable object would be orphaned, with its messages):
//
//	              keeps                    escape  separator  limit  marker + hash
//	RabbitMQ      every byte but % and .   %XX     .          255    .%h + 32 hex of SHA-256
//	JetStream     A-Z a-z 0-9 -            _XX     _-         200    _x + 16 hex of FNV-1a 64
//	              (and . is written __)
//
// A RabbitMQ queue keeps the topic as it is in front (the exchange is
// named after the topic, and "orders.billing" stays readable): the last
// "." separates it from the escaped group. Kafka derives no names: the
// group is the Kafka group id as given, the topic the Kafka topic.
package names

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"strings"
)

// encoding is one broker's alphabet and limit.
type encoding struct {
	keep   func(c byte) bool // bytes written as they are (escape byte excluded)
	esc    byte
	short  map[byte]string // bytes with an escape of their own
	max    int             // longest name, in bytes
	marker string          // starts the hash of a shortened name
	sum    func(string) string
	// escapeUnits: a shortened name is never cut inside an escape (the
	// names are ASCII); otherwise only never inside a UTF-8 character.
	escapeUnits bool
}

const hexDigits = "0123456789ABCDEF"

// part encodes s as a part of a name.
func (e *encoding) part(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch sh, ok := e.short[c]; {
		case ok:
			b.WriteString(sh)
		case c != e.esc && e.keep(c):
			b.WriteByte(c)
		default:
			b.WriteByte(e.esc)
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}

// fit returns name unchanged when it is within the limit, else its
// longest prefix that ends on a unit boundary and leaves room for the
// marker and the hash of the whole name, then those.
func (e *encoding) fit(name string) string {
	if len(name) <= e.max {
		return name
	}
	suffix := e.marker + e.sum(name)
	limit := e.max - len(suffix)
	cut := 0
	for cut < len(name) {
		step := e.unit(name, cut)
		if cut+step > limit {
			break
		}
		cut += step
	}
	return name[:cut] + suffix
}

// unit is the length of the character or escape starting at name[i].
func (e *encoding) unit(name string, i int) int {
	if e.escapeUnits && name[i] == e.esc {
		if i+1 < len(name) && isHex(name[i+1]) {
			return 3
		}
		return 2
	}
	n := 1
	for i+n < len(name) && name[i+n]&0xC0 == 0x80 {
		n++ // a UTF-8 continuation byte
	}
	return n
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' }

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}

func fnv64Hex(s string) string {
	h := fnv.New64a()
	h.Write([]byte(s))
	return fmt.Sprintf("%016x", h.Sum64())
}
