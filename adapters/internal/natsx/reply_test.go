package natsx

import "testing"

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
