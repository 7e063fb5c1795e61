package kafka

import (
	"strconv"
	"unsafe"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heraldkit/herald"
)

// IDHeader is the record header that carries the message ID. It is
// Watermill's own (watermill-kafka's UUIDHeaderKey), so plain
// watermill-kafka applications and Herald read each other's IDs.
const IDHeader = "_watermill_message_uuid"

// newRecord builds the record for msg, the one watermill-kafka writes: the
// ID in the IDHeader header, the herald key as the record key, every other
// metadata entry as a header. msg is not changed; the record shares msg's
// payload.
func newRecord(topic string, msg *message.Message) *kgo.Record {
	rec := &kgo.Record{Topic: topic, Value: msg.Payload}
	rec.Headers = make([]kgo.RecordHeader, 1, len(msg.Metadata)+1)
	rec.Headers[0] = kgo.RecordHeader{Key: IDHeader, Value: stringBytes(msg.UUID)}
	for k, v := range msg.Metadata {
		switch k {
		case herald.KeyHeader:
			if v != "" {
				rec.Key = stringBytes(v)
			}
		case IDHeader:
		default:
			rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: k, Value: stringBytes(v)})
		}
	}
	return rec
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
// other header a metadata entry.
func newMessage(rec *kgo.Record) *message.Message {
	var id string
	md := make(message.Metadata, len(rec.Headers)+1)
	for _, h := range rec.Headers {
		if h.Key == IDHeader {
			id = string(h.Value)
			continue
		}
		md[h.Key] = string(h.Value)
	}
	if id == "" {
		id = rec.Topic + "/" + strconv.FormatInt(int64(rec.Partition), 10) + "/" + strconv.FormatInt(rec.Offset, 10)
	}
	if len(rec.Key) > 0 {
		md[herald.KeyHeader] = string(rec.Key)
	}
	msg := message.NewMessage(id, rec.Value)
	msg.Metadata = md
	return msg
}
