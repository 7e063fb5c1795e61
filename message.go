package herald

import (
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald/internal/wm"
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
// metadata map ready for headers. Its Acked and Nacked channels are nil
// until Ack or Nack is called: Herald settles a message by the handler's
// return value, never by them (message.NewMessage makes both channels).
func NewMessage(payload []byte) *Message {
	return wm.New(NewID(), payload, 0)
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
