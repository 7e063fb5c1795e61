package natsx

import (
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald/adapters"
)

// A settled delivery is reused for a later message; a token of the
// earlier message (a second Ack, a late Valid) must match nothing, or it
// would settle a message its handler never saw.
func TestStaleTokenSettlesNothing(t *testing.T) {
	// asked == window: plan sends no request (there is no connection).
	st := &Stream{window: 2, asked: 2, expiry: time.Minute, reqs: map[uint64]*pullRequest{}}
	hand := func(id string) adapters.Token {
		t.Helper()
		st.mu.Lock()
		defer st.mu.Unlock()
		d := st.newDelivery()
		d.reply, d.msg, d.alive, d.handed = "$JS.ACK.S.c.1."+id+".1.1.0", message.NewMessage(id, nil), time.Now(), true
		st.link(d)
		st.handed++
		return adapters.Token{Seq: d.gen, Ref: d}
	}
	first := hand("1")
	if reply, id, ok := st.settle(first); !ok || id != "1" || reply != "$JS.ACK.S.c.1.1.1.1.0" {
		t.Fatalf("settle(first) = %q, %q, %v", reply, id, ok)
	}
	second := hand("2")
	if first.Ref != second.Ref {
		t.Fatal("the settled delivery was not reused (the test checks reuse)")
	}
	if st.Valid(first) {
		t.Error("a token of a settled message is valid once its delivery is reused")
	}
	if _, id, ok := st.settle(first); ok {
		t.Errorf("a token of a settled message settled %q", id)
	}
	if !st.Valid(second) {
		t.Error("the reused delivery's own token is not valid")
	}
	if _, id, ok := st.settle(second); !ok || id != "2" {
		t.Errorf("settle(second) = %q, %v", id, ok)
	}
	if st.held != 0 || st.handed != 0 {
		t.Errorf("held %d, handed %d after settling both", st.held, st.handed)
	}
}
