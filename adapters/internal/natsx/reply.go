package natsx

import (
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
)

// Header names read on the consume path.
const (
	wmUUIDHdr    = WatermillUUIDHdr
	natsMsgIDHdr = nats.MsgIdHdr
)

// numDelivered reads the delivery count from a JetStream ack subject
// without allocating, as nats.go's parser does:
//
//	$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<tm>.<pending>
//	$JS.ACK.<domain>.<hash>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<tm>.<pending>[.<token>]
//
// It returns 0 when reply is not such a subject.
func numDelivered(reply string) int {
	const prefix = "$JS.ACK."
	if len(reply) <= len(prefix) || reply[:len(prefix)] != prefix {
		return 0
	}
	rest := reply[len(prefix):]
	tokens := 1
	for i := 0; i < len(rest); i++ {
		if rest[i] == '.' {
			tokens++
		}
	}
	var idx int
	switch {
	case tokens == 7:
		idx = 2
	case tokens >= 9:
		idx = 4
	default:
		return 0
	}
	for ; idx > 0; idx-- {
		i := 0
		for i < len(rest) && rest[i] != '.' {
			i++
		}
		rest = rest[i+1:]
	}
	n := 0
	for i := 0; i < len(rest) && rest[i] != '.'; i++ {
		c := rest[i]
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// streamSeq reads the stream name and the stream sequence from a
// JetStream ack subject (see numDelivered).
func streamSeq(reply string) (string, uint64, bool) {
	const prefix = "$JS.ACK."
	if !strings.HasPrefix(reply, prefix) {
		return "", 0, false
	}
	tok := strings.Split(reply[len(prefix):], ".")
	var stream, seq string
	switch {
	case len(tok) == 7:
		stream, seq = tok[0], tok[3]
	case len(tok) >= 9:
		stream, seq = tok[2], tok[5]
	default:
		return "", 0, false
	}
	n, err := strconv.ParseUint(seq, 10, 64)
	return stream, n, err == nil
}
