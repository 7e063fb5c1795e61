package shop

import (
	"sync"
	"testing"
)

// Of many concurrent payments of one order exactly one pays; the others
// get the entry that won.
func TestLedgerPaysOnce(t *testing.T) {
	l, err := OpenLedger(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	paid := make(chan string, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, prev, err := l.Pay(Payment{OrderID: "o-1", AmountCents: 500, PaidBy: string(rune('a' + i))})
			if err != nil {
				t.Error(err)
				return
			}
			if ok {
				paid <- prev.PaidBy
			} else if prev.OrderID != "o-1" || prev.AmountCents != 500 {
				t.Errorf("existing entry %+v", prev)
			}
		}()
	}
	wg.Wait()
	close(paid)
	if n := len(paid); n != 1 {
		t.Fatalf("%d payments of one order succeeded, want 1", n)
	}
	ids, err := l.Paid()
	if err != nil || len(ids) != 1 || ids[0] != "o-1" {
		t.Fatalf("Paid() = %v, %v (temporary files must not show)", ids, err)
	}
}

// An order ID from a topic is untrusted: it must not leave the ledger
// directory.
func TestLedgerRejectsPaths(t *testing.T) {
	l, err := OpenLedger(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"", "../x", "a/b", ".hidden", `a\b`} {
		if _, _, err := l.Pay(Payment{OrderID: id, AmountCents: 1}); err == nil {
			t.Errorf("Pay(%q) succeeded", id)
		}
		if err := (Order{ID: id, AmountCents: 1}).Validate(); err == nil {
			t.Errorf("Validate(%q) succeeded", id)
		}
	}
}
