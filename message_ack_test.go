package herald_test

import (
	"testing"
	"time"

	"github.com/heraldkit/herald"
)

// TestNewMessageAckedWakesWaiter: a message from herald.NewMessage is
// Watermill's message type, handed to Watermill code that waits for its
// settlement the way Watermill documents it (select on Acked() and
// Nacked(), entered before the other side acks: every Watermill
// subscriber, a hand-written one fed herald.NewMessage included). Such a
// waiter must wake on Ack, as it does for message.NewMessage. On contract
// the channels are nil until Ack, so the select waits on nil channels
// forever (and Ack's write of the channel races the waiter's read).
func TestNewMessageAckedWakesWaiter(t *testing.T) {
	for _, settle := range []string{"ack", "nack"} {
		m := herald.NewMessage([]byte("x"))
		acked, nacked := m.Acked(), m.Nacked() // the waiter's select, entered first
		if settle == "ack" {
			m.Ack()
		} else {
			m.Nack()
		}
		select {
		case <-acked:
			if settle != "ack" {
				t.Errorf("%s: Acked fired", settle)
			}
		case <-nacked:
			if settle != "nack" {
				t.Errorf("%s: Nacked fired", settle)
			}
		case <-time.After(2 * time.Second):
			t.Errorf("%s: a waiter on Acked/Nacked taken before the %s never wakes", settle, settle)
		}
	}
}
