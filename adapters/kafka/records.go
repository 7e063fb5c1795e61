package kafka

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters/internal/reserved"
	"github.com/heraldkit/herald/internal/wm"
)

// IDHeader is the record header that carries the message ID. It is
// Watermill's own (watermill-kafka's UUIDHeaderKey), so plain
// watermill-kafka applications and Herald read each other's IDs.
const IDHeader = "_watermill_message_uuid"

// fillRecord fills rec with the record for msg, the one watermill-kafka
// writes: the ID in the IDHeader header, the herald key as the record key,
// every other metadata entry as a header; ts is the record timestamp
// (zero: the produce time). An entry whose key the driver reserves
// (IDHeader, or a key starting with Herald-Enc-) is escaped as on NATS
// (adapters/internal/reserved) and comes back exactly. msg is not
// changed; the record shares msg's payload. The headers go in hdrs when
// they fit (an array of the caller's, to save an allocation).
func fillRecord(rec *kgo.Record, hdrs []kgo.RecordHeader, topic string, msg *message.Message, ts time.Time) {
	rec.Topic, rec.Value, rec.Timestamp = topic, msg.Payload, ts
	if cap(hdrs) < len(msg.Metadata)+1 {
		hdrs = make([]kgo.RecordHeader, 0, len(msg.Metadata)+1)
	}
	hdrs = append(hdrs[:0], kgo.RecordHeader{Key: IDHeader, Value: stringBytes(msg.UUID)})
	for k, v := range msg.Metadata {
		switch {
		case k == herald.KeyHeader:
			if v != "" {
				rec.Key = stringBytes(v)
			}
		case k == IDHeader || strings.HasPrefix(k, reserved.Prefix):
			ek, ev := reserved.Escape(k, v)
			hdrs = append(hdrs, kgo.RecordHeader{Key: ek, Value: []byte(ev)})
		default:
			hdrs = append(hdrs, kgo.RecordHeader{Key: k, Value: stringBytes(v)})
		}
	}
	rec.Headers = hdrs
}

// maxTimestamp is the latest record timestamp franz-go encodes: it
// computes milliseconds through time.Time.UnixNano, which overflows after
// it.
var maxTimestamp = time.Unix(0, math.MaxInt64)

// checkTimestamp refuses a Properties.Time that a record timestamp cannot
// carry: before the Unix epoch (Kafka's timestamps are non-negative
// milliseconds, -1 meaning none; the Java producer refuses a negative
// one), or after maxTimestamp (sent, it would arrive as another time).
// The zero time is the produce time.
func checkTimestamp(ts time.Time) error {
	if !ts.IsZero() && (ts.Before(time.Unix(0, 0)) || ts.After(maxTimestamp)) {
		return fmt.Errorf("herald.Properties.Time %v is outside a Kafka record timestamp's range, %v to %v (non-negative milliseconds since the Unix epoch); leave it zero for the produce time",
			ts, time.Unix(0, 0).UTC(), maxTimestamp.UTC())
	}
	return nil
}

// stringBytes returns the bytes of s without copying them. The producer
// only reads a record's key and header values (to encode and to hash the
// key), never writes them, so they may share the strings' memory.
func stringBytes(s string) []byte {
	if s == "" {
		return []byte{} // empty, not null, as []byte("") would be
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// newMessage turns a consumed record into a message: the IDHeader header
// is the ID ("<topic>/<partition>/<offset>" without one, stable across
// redeliveries), the record key the herald.KeyHeader metadata, every
// other header a metadata entry; the record timestamp is Received.Time.
// Headers of one key (Kafka allows several) are joined with ", " in
// their order, as NATS and HTTP join repeated headers; of several
// IDHeader headers the last is the ID. An escaped header (Herald-Enc-)
// is decoded.
//
// The ID, the key and the header values share the record's memory
// (bytesString) as the payload does: franz-go decodes a fetch into a
// buffer of its own that it never reuses (Herald sets no kgo.WithPools),
// and the message keeps it alive as long as any of them.
func newMessage(rec *kgo.Record) *message.Message {
	var id string
	for _, h := range rec.Headers {
		if h.Key == IDHeader {
			id = bytesString(h.Value)
		}
	}
	if id == "" {
		id = rec.Topic + "/" + strconv.FormatInt(int64(rec.Partition), 10) + "/" + strconv.FormatInt(rec.Offset, 10)
	}
	// The payload's capacity is clipped to its length: the record's header
	// bytes follow its value in the fetch buffer, so an append to the
	// payload must copy it rather than overwrite the bytes the ID and the
	// metadata values share.
	msg := wm.New(id, rec.Value[:len(rec.Value):len(rec.Value)], len(rec.Headers)) // its empty Metadata map is filled here
	md := msg.Metadata
	for _, h := range rec.Headers {
		if h.Key == IDHeader {
			continue
		}
		k, v := h.Key, bytesString(h.Value)
		if strings.HasPrefix(k, reserved.Prefix) {
			if rk, rv, ok := reserved.Unescape(k, v); ok {
				k, v = rk, rv
			}
		}
		if old, dup := md[k]; dup {
			v = old + ", " + v
		}
		md[k] = v
	}
	if len(rec.Key) > 0 {
		md[herald.KeyHeader] = bytesString(rec.Key)
	}
	return msg
}

// bytesString returns b as a string without copying it; b must not be
// changed afterwards (see newMessage).
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}
