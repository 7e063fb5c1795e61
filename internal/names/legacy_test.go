package names

// The derivations of earlier versions, verbatim (adapters/rabbitmq and
// adapters/internal/natsx before this package): TestStable checks that
// every name stays what they gave, so no queue, stream or durable
// consumer is orphaned.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"strings"
	"unicode/utf8"
)

var legacyGroupEscaper = strings.NewReplacer("%", "%25", ".", "%2E")

func legacyQueueName(topic, group, privateID string) string {
	var q string
	if group == "" {
		q = topic + "." + "%private-" + privateID
	} else {
		q = topic + "." + legacyGroupEscaper.Replace(group)
	}
	return legacyShorten(q)
}

func legacyShorten(name string) string {
	if len(name) <= 255 {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	suffix := ".%h" + hex.EncodeToString(sum[:16])
	keep := 255 - len(suffix)
	for keep > 0 && !utf8.RuneStart(name[keep]) {
		keep--
	}
	return name[:keep] + suffix
}

func legacyEncodeName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-':
			b.WriteByte(c)
		case c == '.':
			b.WriteString("__")
		default:
			fmt.Fprintf(&b, "_%02X", c)
		}
	}
	return b.String()
}

func legacyFit(n string) string {
	if len(n) <= 200 {
		return n
	}
	limit := 200 - len("_x") - 16
	cut := 0
	for cut < len(n) {
		step := 1
		if n[cut] == '_' {
			step = 2
			if cut+1 < len(n) && isHex(n[cut+1]) {
				step = 3
			}
		}
		if cut+step > limit {
			break
		}
		cut += step
	}
	h := fnv.New64a()
	h.Write([]byte(n))
	return fmt.Sprintf("%s%s%016x", n[:cut], "_x", h.Sum64())
}

func legacyStreamName(topic string) string { return legacyFit(legacyEncodeName(topic)) }

func legacyGroupConsumerName(group, topic string, dedicated bool) string {
	if dedicated {
		return legacyFit(legacyEncodeName(group))
	}
	return legacyFit(legacyEncodeName(group) + "_-" + legacyEncodeName(topic))
}

func legacyPrivateConsumerName(id, topic string, dedicated bool) string {
	if dedicated {
		return legacyFit("herald_p" + id)
	}
	return legacyFit("herald_p" + id + "_-" + legacyEncodeName(topic))
}
