package adaptertest

import (
	"fmt"
	"testing"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// testDriverKeyOrder: messages sent on one Topic with one key are
// received by one subscription in the order they were sent, for several
// keys interleaved, and Received.Key is each message's key. Order is
// OrderKey or OrderQueue.
func testDriverKeyOrder(t *testing.T, e *denv) {
	require(t, e.caps.Order != adapters.OrderNone, "an Order (OrderKey or OrderQueue)")
	const keys, each = 4, 25
	topic := e.topic("dorder")
	st := e.openStream(e.openSub(e.group("dorder")), topic, 16)
	var msgs []*herald.Message
	for i := 0; i < each; i++ {
		for k := 0; k < keys; k++ {
			m := herald.NewMessage([]byte(fmt.Sprintf("%d", i)))
			herald.SetKey(m, fmt.Sprintf("key-%d", k))
			msgs = append(msgs, m)
		}
	}
	e.publish(t, e.openTopic(), topic, msgs...)
	last := map[string]int{}
	seen := map[string]bool{}
	for _, r := range st.until(t, msgs) {
		if seen[r.Msg.UUID] {
			continue // a redelivery, not a reordering
		}
		seen[r.Msg.UUID] = true
		if r.Key != herald.Key(r.Msg) {
			t.Errorf("Received.Key = %q; the message's key is %q", r.Key, herald.Key(r.Msg))
		}
		var i int
		fmt.Sscan(string(r.Msg.Payload), &i)
		if prev, ok := last[r.Key]; ok && i != prev+1 {
			t.Errorf("%s: message %d received after message %d (sent in order on one Topic)", r.Key, i, prev)
		} else if !ok && i != 0 {
			t.Errorf("%s: message %d received first; want message 0", r.Key, i)
		}
		last[r.Key] = i
	}
}
