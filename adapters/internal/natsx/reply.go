package natsx

import (
	"strconv"
	"strings"
	"time"
)

// ackFields returns the stream name, delivery count, stream sequence and
// timestamp tokens of a JetStream ack subject, in one pass and without
// allocating:
//
//	$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<tm>.<pending>
//	$JS.ACK.<domain>.<hash>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<tm>.<pending>[.<token>]
//
// ok is false when reply is not such a subject.
func ackFields(reply string) (stream, delivered, sseq, tm string, ok bool) {
	const prefix = "$JS.ACK."
	if !strings.HasPrefix(reply, prefix) {
		return "", "", "", "", false
	}
	rest := reply[len(prefix):]
	var tok [12]string
	n := 0
	for n < len(tok) {
		i := strings.IndexByte(rest, '.')
		if i < 0 {
			tok[n] = rest
			n++
			break
		}
		tok[n], rest = rest[:i], rest[i+1:]
		n++
	}
	switch {
	case n == 7:
		return tok[0], tok[2], tok[3], tok[5], true
	case n >= 9:
		return tok[2], tok[4], tok[5], tok[7], true
	}
	return "", "", "", "", false
}

// ackInfo reads the delivery count and the time the stream stored the
// message from a JetStream ack subject, in one pass (see ackFields); 0
// and the zero time when reply is not such a subject.
func ackInfo(reply string) (delivered int, stored time.Time) {
	_, dtok, _, tm, ok := ackFields(reply)
	if !ok {
		return 0, time.Time{}
	}
	return deliveredCount(dtok), storedTime(tm)
}

// deliveredCount is the delivery count token's value (0 when it is not a
// decimal number).
func deliveredCount(tok string) int {
	if tok == "" {
		return 0
	}
	n := 0
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// streamSeq reads the stream name and the stream sequence from a
// JetStream ack subject (see ackFields).
func streamSeq(reply string) (string, uint64, bool) {
	stream, _, seq, _, ok := ackFields(reply)
	if !ok {
		return "", 0, false
	}
	n, err := strconv.ParseUint(seq, 10, 64)
	return stream, n, err == nil
}

// storedTime is the timestamp token's time (the zero time when it is not
// a positive number of nanoseconds).
func storedTime(tm string) time.Time {
	ns, err := strconv.ParseInt(tm, 10, 64)
	if err != nil || ns <= 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}
