package natsx

import (
	"testing"
	"time"
)

func TestNumDelivered(t *testing.T) {
	for reply, want := range map[string]int{
		"$JS.ACK.ORDERS.c1.3.10.7.1700000000.2":             3,
		"$JS.ACK._.hash.ORDERS.c1.12.10.7.1700000000.2.tok": 12,
		"$JS.ACK.dom.hash.ORDERS.c1.1.10.7.1700000000.2":    1,
		"_INBOX.abc":            0,
		"$JS.ACK.a.b":           0,
		"$JS.ACK.S.c.x.1.1.1.1": 0,
	} {
		if got := numDelivered(reply); got != want {
			t.Errorf("numDelivered(%q) = %d, want %d", reply, got, want)
		}
	}
	var sink int
	if n := testing.AllocsPerRun(100, func() { sink = numDelivered("$JS.ACK._.hash.ORDERS.c1.12.10.7.1700000000.2.tok") }); n != 0 {
		t.Errorf("numDelivered allocates %v times", n)
	}
	if sink != 12 {
		t.Errorf("numDelivered = %d, want 12", sink)
	}
}

// TestStoredAt: the stored time is the ack subject's timestamp token
// (nanoseconds), in both subject forms; zero for anything else.
func TestStoredAt(t *testing.T) {
	want := time.Unix(0, 1765115000123456789)
	for reply, w := range map[string]time.Time{
		"$JS.ACK.ORDERS.c1.3.10.7.1765115000123456789.2":             want,
		"$JS.ACK._.hash.ORDERS.c1.12.10.7.1765115000123456789.2.tok": want,
		"$JS.ACK.ORDERS.c1.3.10.7.x.2":                               {},
		"_INBOX.abc":                                                 {},
	} {
		if got := storedAt(reply); !got.Equal(w) {
			t.Errorf("storedAt(%q) = %v; want %v", reply, got, w)
		}
	}
}
