package natsx

import (
	"encoding/base64"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters/internal/reserved"
	"github.com/heraldkit/herald/internal/wm"
)

// EncodedPrefix starts the header key of a metadata entry that cannot travel
// as a plain NATS header (a key that is not a header token, or a value with
// control characters such as CR/LF, invalid UTF-8 or leading/trailing
// blanks). Such an entry is sent as
//
//	Herald-Enc-<base64url(key), unpadded>: <base64(value)>
//
// and decoded on consume, so every metadata entry round-trips exactly. It
// is the escape every backend uses for the keys it reserves
// (adapters/internal/reserved).
const EncodedPrefix = reserved.Prefix

// Marshaler maps Watermill messages to NATS messages and back. Metadata
// becomes NATS headers (see EncodedPrefix) and the message ID travels as
// Watermill's own UUID header (_watermill_message_uuid), so stock
// watermill-nats consumers read it.
//
// JetStream de-duplicates on the Nats-Msg-Id header, within the stream's
// duplicates window. Herald sets it to DedupID(subject, id): the message
// ID and the subject. So a resend of a message whose PubAck was lost is
// stored once, while the same message published to two subjects of one
// stream (a dead-letter copy on a stream that captures both the topic and
// its .dlq subject, for example) is stored twice: a PubAck that says
// Duplicate therefore always means that this message was already stored
// under this subject, and counts as stored.
//
// Its methods have the signatures of watermill-nats' Marshaler and
// Unmarshaler, whose header conventions it keeps (without importing it).
type Marshaler struct{}

// WatermillUUIDHdr is the header watermill-nats carries the message ID in;
// Herald sends it too, so stock watermill-nats consumers read the ID.
const WatermillUUIDHdr = "_watermill_message_uuid"

// The headers a server stamps on the message a schedule published
// (jetstream.SchedulerHeader, ScheduleNextHeader): not the publisher's
// metadata, so not the handler's.
const (
	schedulerHdr    = "Nats-Scheduler"
	scheduleNextHdr = "Nats-Schedule-Next"
)

// Marshal builds the NATS message for msg on subject.
func (m Marshaler) Marshal(subject string, msg *message.Message) (*nats.Msg, error) {
	nm := &nats.Msg{}
	m.fill(nm, subject, msg, nil)
	return nm, nil
}

// fillScratch is room for what fill makes, in the caller's struct: the
// headers' values and the DedupID's bytes, so that a message without
// metadata (or with little) costs no allocation for them.
type fillScratch struct {
	vals  [4]string
	dedup [96]byte
}

// fill makes nm the NATS message for msg on subject, as Marshal does (nm
// may live in a struct of the caller's: one allocation less). Every
// header's one value lives in one backing array, and the DedupID in its
// own bytes: in sc when they fit (sc may be nil), else new ones. nm keeps
// referring to sc, whose bytes are never written again.
func (Marshaler) fill(nm *nats.Msg, subject string, msg *message.Message, sc *fillScratch) {
	n := len(msg.Metadata) + 2
	h := make(nats.Header, n)
	var vals []string
	if sc != nil && n <= len(sc.vals) {
		vals = sc.vals[:n]
	} else {
		vals = make([]string, n)
	}
	i := 0
	for k, v := range msg.Metadata {
		if !plainKey(k) || !plainValue(v) {
			k, v = reserved.Escape(k, v)
		}
		vals[i] = v
		h[k] = vals[i : i+1 : i+1]
		i++
	}
	if id := msg.UUID; id != "" {
		hid := headerID(id)
		vals[i], vals[i+1] = hid, dedupID(hid, subject, sc)
		h[WatermillUUIDHdr] = vals[i : i+1 : i+1]
		h[nats.MsgIdHdr] = vals[i+1 : i+2 : i+2]
	}
	nm.Subject, nm.Data, nm.Header = subject, msg.Payload, h
}

// dedupID is DedupID from the header ID hid, its bytes in sc's when they
// fit.
func dedupID(hid, subject string, sc *fillScratch) string {
	n := len(hid) + 1 + len(subject)
	if sc == nil || n > len(sc.dedup) {
		return hid + " " + subject
	}
	b := sc.dedup[:n]
	copy(b, hid)
	b[len(hid)] = ' '
	copy(b[len(hid)+1:], subject)
	// b is written once, here, and never again: a string may refer to it.
	return unsafe.String(&b[0], n)
}

// headerID is id as a header value: itself when it travels unchanged,
// else EncodedPrefix and its base64.
func headerID(id string) string {
	if plainValue(id) && !strings.HasPrefix(id, EncodedPrefix) {
		return id
	}
	return EncodedPrefix + base64.StdEncoding.EncodeToString([]byte(id))
}

// DedupID is the Nats-Msg-Id Herald sends for message id on subject:
// "<id> <subject>" (the ID encoded as in the UUID header when it is not a
// plain header value). A subject holds no blanks, so two different
// (subject, id) pairs never give the same value.
func DedupID(subject, id string) string {
	return headerID(id) + " " + subject
}

// Unmarshal builds a Watermill message from a NATS message. The ID is
// Watermill's UUID header, else Nats-Msg-Id (a message from another
// publisher), else a new unique ID (a message published without one, e.g.
// by the nats CLI on core NATS).
func (m Marshaler) Unmarshal(nm *nats.Msg) (*message.Message, error) {
	return m.decode(nm.Header, nm.Data, ""), nil
}

// decode builds the message. When the headers carry no ID, a JetStream
// message (reply is its ack subject) gets jsFallbackID, anything else a
// new unique ID.
func (Marshaler) decode(h nats.Header, data []byte, reply string) *message.Message {
	id := h.Get(WatermillUUIDHdr)
	if enc, ok := strings.CutPrefix(id, EncodedPrefix); ok {
		if b, err := base64.StdEncoding.DecodeString(enc); err == nil {
			id = string(b)
		}
	}
	if id == "" {
		id = h.Get(nats.MsgIdHdr)
	}
	if id == "" && reply != "" {
		if stream, seq, ok := streamSeq(reply); ok {
			id = jsFallbackID(stream, seq)
		}
	}
	if id == "" {
		id = herald.NewID()
	}
	msg := wm.New(id, data, len(h))
	md := msg.Metadata
	for k, vs := range h {
		if len(vs) == 0 {
			continue
		}
		v := vs[0]
		if len(vs) > 1 {
			v = strings.Join(vs, ", ")
		}
		switch {
		case k == nats.MsgIdHdr, k == WatermillUUIDHdr:
			continue
		case k == schedulerHdr, k == scheduleNextHdr:
			continue // stamped by the server on a scheduled (delayed) message
		case strings.HasPrefix(k, "Nats-Expected-"):
			continue
		case strings.HasPrefix(k, EncodedPrefix):
			if key, val, ok := reserved.Unescape(k, v); ok {
				md[key] = val
				continue
			}
		}
		md[k] = v
	}
	return msg
}

// serverHeader reports whether k is in the namespace of the NATS server's
// own headers ("Nats-", any case: Nats-Msg-Id, Nats-Expected-*,
// Nats-Rollup, Nats-TTL, Nats-Schedule*, Nats-Batch-*, Nats-Incr...), which
// JetStream acts on. A metadata entry so named is data (a consumed foreign
// message forwarded by DeadLetter carries them): it travels escaped, so it
// never purges a subject, expires, schedules or fails a message.
func serverHeader(k string) bool {
	return len(k) >= 5 && strings.EqualFold(k[:5], "Nats-")
}

// plainKey reports whether k is a NATS header token that Herald does not
// reserve: printable ASCII without the separators nats.go rejects, outside
// the server's "Nats-" namespace.
func plainKey(k string) bool {
	if k == "" || strings.HasPrefix(k, EncodedPrefix) || k == WatermillUUIDHdr || serverHeader(k) {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c < 33 || c > 126 || strings.IndexByte(`"()/,:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// plainValue reports whether v survives a NATS header unchanged: valid
// UTF-8, no control characters, no leading or trailing blanks.
func plainValue(v string) bool {
	if !utf8.ValidString(v) {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return v == "" || (v[0] != ' ' && v[len(v)-1] != ' ')
}

// jsFallbackID is the ID given to a JetStream message published without
// one: stable across redeliveries, so handlers can de-duplicate.
func jsFallbackID(stream string, seq uint64) string {
	return stream + ":" + strconv.FormatUint(seq, 10)
}
