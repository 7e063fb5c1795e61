package wm

import "testing"

// A message made by New acks and nacks as one of message.NewMessage
// does (its channels come with the first Ack or Nack), and Copy gives a
// message of its own.
func TestNewSettlesLikeWatermill(t *testing.T) {
	m := New("id", []byte("p"), 2)
	if m.Acked() != nil || m.Nacked() != nil {
		t.Fatal("a new message has settlement channels")
	}
	if !m.Ack() {
		t.Fatal("Ack refused")
	}
	select {
	case <-m.Acked():
	default:
		t.Fatal("Acked is not closed after Ack")
	}
	if m.Nack() {
		t.Fatal("Nack after Ack accepted")
	}
	n := New("id2", nil, 0)
	if !n.Nack() {
		t.Fatal("Nack refused")
	}
	select {
	case <-n.Nacked():
	default:
		t.Fatal("Nacked is not closed after Nack")
	}

	m.Metadata["k"] = "v"
	c := Copy(m)
	c.Metadata["k"] = "changed"
	if c.UUID != "id" || string(c.Payload) != "p" || m.Metadata["k"] != "v" || c.Acked() != nil {
		t.Fatalf("copy %+v shares state with %+v", c, m)
	}
}
