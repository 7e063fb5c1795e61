package herald

import (
	"github.com/ThreeDotsLabs/watermill/message"
)

// Message is a message crossing the broker. It is Watermill's message type,
// so code can drop down to Watermill at any time. Its UUID field is the
// message ID, Metadata holds the headers and Payload the body.
type Message = message.Message

// Metadata keys that Herald reserves. Adapters map them to the broker's
// native fields (for example the Kafka record key).
const (
	// KeyHeader carries the ordering/partition key set by SetKey.
	KeyHeader = "herald-key"
)

// NewMessage returns a message with a new unique ID (a ULID: 26
// characters, sortable by creation time to the millisecond) and an empty
// metadata map ready for headers. It is message.NewMessage's message, with
// its Acked and Nacked channels: a message the caller makes may be handed
// to Watermill code that waits on them (a Watermill subscriber's select on
// Acked and Nacked), which a message without them would block forever.
func NewMessage(payload []byte) *Message {
	return message.NewMessage(NewID(), payload)
}

// SetKey sets the message's ordering key. Messages with the same key keep
// their relative order where the backend can guarantee it (see
// docs/guarantees.md); on Kafka the key is the record key and picks the
// partition.
func SetKey(m *Message, key string) {
	m.Metadata.Set(KeyHeader, key)
}

// Key returns the ordering key set by SetKey, or "".
func Key(m *Message) string {
	return m.Metadata.Get(KeyHeader)
}

// ID returns the message's unique ID.
func ID(m *Message) string {
	return m.UUID
}

// SetHeader sets a metadata header on the message.
func SetHeader(m *Message, key, value string) {
	m.Metadata.Set(key, value)
}

// Header returns the value of a metadata header, or "" if it is absent.
func Header(m *Message, key string) string {
	return m.Metadata.Get(key)
}
