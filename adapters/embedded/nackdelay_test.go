package embedded_test

import (
	"testing"
	"time"

	"github.com/heraldkit/herald/adapters"
)

// A nack carrying a delay (herald.RetryAfter, via adapters.SetNackDelay)
// is redelivered after that delay, not at once, and other messages flow
// meanwhile.
func TestNackDelayIsHonoured(t *testing.T) {
	target := target(t.TempDir(), "group=g")
	tp := topic()
	sub := openSub(t, target)
	ch := subscribe(t, sub, tp)
	pub := openPub(t, target)
	ids := publishN(t, pub, tp, 2, "delay")

	const delay = 1500 * time.Millisecond
	first := <-ch
	if first.UUID != ids[0] {
		t.Fatalf("first delivery %s, want %s", first.UUID, ids[0])
	}
	nacked := time.Now()
	adapters.SetNackDelay(first, delay)
	first.Nack()

	second := <-ch // the other message is not held back by the delayed one
	if second.UUID != ids[1] {
		t.Fatalf("second delivery %s, want %s (the undelayed message)", second.UUID, ids[1])
	}
	second.Ack()
	again := <-ch
	elapsed := time.Since(nacked)
	again.Ack()
	if again.UUID != ids[0] {
		t.Fatalf("redelivery %s, want %s", again.UUID, ids[0])
	}
	if elapsed < delay-100*time.Millisecond {
		t.Errorf("redelivered after %v; the nack asked for %v", elapsed, delay)
	}
}
