package natsx

import (
	"testing"
	"time"
)

// TestAckInfoDelivered: the delivery count is the ack subject's token, in
// both subject forms; 0 for anything else; reading it allocates nothing.
func TestAckInfoDelivered(t *testing.T) {
	for reply, want := range map[string]int{
		"$JS.ACK.ORDERS.c1.3.10.7.1700000000.2":             3,
		"$JS.ACK._.hash.ORDERS.c1.12.10.7.1700000000.2.tok": 12,
		"$JS.ACK.dom.hash.ORDERS.c1.1.10.7.1700000000.2":    1,
		"_INBOX.abc":            0,
		"$JS.ACK.a.b":           0,
		"$JS.ACK.S.c.x.1.1.1.1": 0,
	} {
		if got, _ := ackInfo(reply); got != want {
			t.Errorf("ackInfo(%q) delivered %d, want %d", reply, got, want)
		}
	}
	var sink int
	if n := testing.AllocsPerRun(100, func() { sink, _ = ackInfo("$JS.ACK._.hash.ORDERS.c1.12.10.7.1700000000.2.tok") }); n != 0 {
		t.Errorf("ackInfo allocates %v times", n)
	}
	if sink != 12 {
		t.Errorf("ackInfo delivered %d, want 12", sink)
	}
}

// TestAckInfoStored: the stored time is the ack subject's timestamp token
// (nanoseconds), in both subject forms; zero for anything else.
func TestAckInfoStored(t *testing.T) {
	want := time.Unix(0, 1765115000123456789)
	for reply, w := range map[string]time.Time{
		"$JS.ACK.ORDERS.c1.3.10.7.1765115000123456789.2":             want,
		"$JS.ACK._.hash.ORDERS.c1.12.10.7.1765115000123456789.2.tok": want,
		"$JS.ACK.ORDERS.c1.3.10.7.x.2":                               {},
		"_INBOX.abc":                                                 {},
	} {
		if _, got := ackInfo(reply); !got.Equal(w) {
			t.Errorf("ackInfo(%q) stored %v; want %v", reply, got, w)
		}
	}
}
