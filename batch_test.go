package herald_test

import (
	"errors"
	"testing"

	"github.com/heraldkit/herald"
)

// Results default to ack; FailFrom acks before i and retries from i;
// a failure without an error still carries one.
func TestBatchResults(t *testing.T) {
	b := herald.NewBatch([]*herald.Message{herald.NewMessage(nil), herald.NewMessage(nil), herald.NewMessage(nil), herald.NewMessage(nil)})
	if b.Count(herald.OutcomeAck) != 4 {
		t.Fatalf("%d acks by default, want 4", b.Count(herald.OutcomeAck))
	}
	boom := errors.New("boom")
	b.FailFrom(2, boom)
	for i, want := range []herald.Outcome{herald.OutcomeAck, herald.OutcomeAck, herald.OutcomeRetry, herald.OutcomeRetry} {
		if r := b.Result(i); r.Outcome != want || (want == herald.OutcomeRetry) != (r.Err == boom) {
			t.Errorf("FailFrom(2): message %d is %v (%v), want %v", i, r.Outcome, r.Err, want)
		}
	}
	b.DeadLetter(0, nil)
	if r := b.Result(0); r.Outcome != herald.OutcomeDeadLetter || r.Err == nil {
		t.Errorf("DeadLetter(0, nil): %v %v, want dead_letter with an error", r.Outcome, r.Err)
	}
	b.FailFrom(b.Len(), boom)
	if b.Count(herald.OutcomeAck) != 4 {
		t.Errorf("FailFrom(Len()): %d acks, want 4", b.Count(herald.OutcomeAck))
	}
	b.RetryAll(boom)
	if b.Count(herald.OutcomeRetry) != 4 {
		t.Errorf("RetryAll: %d retries, want 4", b.Count(herald.OutcomeRetry))
	}
	if herald.OutcomeDeadLettered.String() != "dead_lettered" {
		t.Errorf("String: %q", herald.OutcomeDeadLettered)
	}
}
