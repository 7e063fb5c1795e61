// Package wm makes the Watermill messages Herald hands out: one
// allocation for the message and one for its metadata map, sized for
// the headers it will hold.
//
// message.NewMessage also makes the message's two acknowledgement
// channels (two more allocations per message, on each side of the
// broker) that Herald never uses: the facade settles a delivery by the
// handler's return value, not by Ack or Nack. A message made here has
// none until its Ack or Nack is called (Watermill's Ack and Nack then
// set a closed channel), so Acked and Nacked return a nil channel, which
// never fires, before that: the same as an open one nobody closes.
package wm

import "github.com/ThreeDotsLabs/watermill/message"

// New returns a message with id, payload and an empty metadata map with
// room for headers entries.
func New(id string, payload []byte, headers int) *message.Message {
	return &message.Message{UUID: id, Metadata: make(message.Metadata, headers), Payload: payload}
}

// Copy returns a copy of m: its ID, its metadata (a map of its own) and
// its payload (shared), as message.Message.Copy makes it: without m's
// context and acknowledgements.
func Copy(m *message.Message) *message.Message {
	c := New(m.UUID, m.Payload, len(m.Metadata))
	for k, v := range m.Metadata {
		c.Metadata[k] = v
	}
	return c
}
