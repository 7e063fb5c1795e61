package rabbitmq

import (
	"slices"
	"testing"
)

// sent is what one flush of a ledger puts on the wire.
type sent struct {
	nacks, singles []uint64
	to             uint64
}

func flushLedger(l *ledger) sent {
	n, s, to := l.take()
	return sent{slices.Clone(n), slices.Clone(s), to}
}

// TestLedgerPromptAcks: an ack above an unsettled tag goes out alone at
// once; a prefix goes out as one multiple-ack naming a tag the broker
// still holds; queued single acks that the prefix reaches are folded
// into the multiple-ack; nothing is settled twice.
func TestLedgerPromptAcks(t *testing.T) {
	var l ledger
	for tag := uint64(1); tag <= 8; tag++ {
		l.add(tag)
	}
	l.ack(2)
	l.ack(3)
	if got := flushLedger(&l); !slices.Equal(got.singles, []uint64{2, 3}) || got.to != 0 {
		t.Fatalf("acks above unsettled 1: %+v; want single acks 2, 3", got)
	}
	l.ack(5) // queued single
	l.ack(1) // prefix 1..3: multiple-ack 1 (2 and 3 went alone)
	if got := flushLedger(&l); !slices.Equal(got.singles, []uint64{5}) || got.to != 1 {
		t.Fatalf("prefix to 3 with 2, 3 acked alone: %+v; want single 5, multiple 1", got)
	}
	l.ack(7) // queued single, then folded:
	l.ack(4) // prefix 1..5 (5 went alone): multiple 4
	l.ack(6) // prefix to 7: 7 not sent yet, so multiple 7 covers 6 and 7
	if got := flushLedger(&l); len(got.singles) != 0 || got.to != 7 {
		t.Fatalf("folding a queued single: %+v; want multiple 7 only", got)
	}
	l.ack(6)
	l.nack(7)
	if l.pending() {
		t.Fatalf("settling twice queued %+v", flushLedger(&l))
	}
	l.nack(8)
	if got := flushLedger(&l); !slices.Equal(got.nacks, []uint64{8}) || got.to != 0 {
		t.Fatalf("nack of the last tag: %+v; want nack 8 and no multiple-ack naming it", got)
	}
	if l.unsettled() != 0 {
		t.Errorf("unsettled %d, want 0", l.unsettled())
	}
}

// TestLedgerNeverNamesSettledTag: whatever the settle order, no
// multiple-ack names a tag acked or nacked alone, none covers an
// unsettled tag, and every tag is settled at the broker exactly once.
func TestLedgerNeverNamesSettledTag(t *testing.T) {
	orders := [][]int{
		{3, 1, 2, 5, 4, 6},
		{6, 5, 4, 3, 2, 1},
		{1, 2, 3, 4, 5, 6},
		{2, 4, 6, 1, 3, 5},
	}
	for _, order := range orders {
		for flushEvery := 1; flushEvery <= 3; flushEvery++ {
			var l ledger
			for tag := uint64(1); tag <= 6; tag++ {
				l.add(tag)
			}
			broker := map[uint64]bool{} // settled at the broker
			settledHere := map[uint64]bool{}
			apply := func() {
				s := flushLedger(&l)
				for _, tag := range append(s.nacks, s.singles...) {
					if broker[tag] {
						t.Fatalf("order %v: tag %d settled twice", order, tag)
					}
					broker[tag] = true
				}
				if s.to > 0 {
					if broker[s.to] {
						t.Fatalf("order %v: multiple-ack names tag %d, settled already", order, s.to)
					}
					for tag := uint64(1); tag <= s.to; tag++ {
						if !settledHere[tag] {
							t.Fatalf("order %v: multiple-ack %d covers unsettled %d", order, s.to, tag)
						}
						broker[tag] = true
					}
				}
			}
			for i, tag := range order {
				settledHere[uint64(tag)] = true
				if tag%3 == 0 {
					l.nack(uint64(tag))
				} else {
					l.ack(uint64(tag))
				}
				if (i+1)%flushEvery == 0 {
					apply()
				}
			}
			apply()
			if len(broker) != 6 {
				t.Errorf("order %v, flush every %d: %d tags settled at the broker, want 6", order, flushEvery, len(broker))
			}
		}
	}
}

// TestLedgerBatchRuns: a batch settled in order (subscriber.SubscribeBatch)
// goes out as one multiple-ack per contiguous run of acks and a single
// nack per retried message: acks 1..4, nack 5, acks 6..10 flushed
// together are nack 5 then multiple-ack 10 (5 is no longer the broker's
// to hold). A retry held for its delay leaves its tag unsettled: the acks
// above it go alone (a multiple-ack would settle it), and the held nack
// goes later.
func TestLedgerBatchRuns(t *testing.T) {
	var l ledger
	for tag := uint64(1); tag <= 20; tag++ {
		l.add(tag)
	}
	for tag := uint64(1); tag <= 10; tag++ {
		if tag == 5 {
			l.nack(tag)
		} else {
			l.ack(tag)
		}
	}
	if got := flushLedger(&l); !slices.Equal(got.nacks, []uint64{5}) || len(got.singles) != 0 || got.to != 10 {
		t.Fatalf("batch 1..10 with 5 retried at once: %+v; want nack 5, multiple-ack 10", got)
	}
	for tag := uint64(11); tag <= 20; tag++ {
		if tag != 13 { // 13 is held for its retry delay
			l.ack(tag)
		}
	}
	if got := flushLedger(&l); len(got.nacks) != 0 || !slices.Equal(got.singles, []uint64{14, 15, 16, 17, 18, 19, 20}) || got.to != 12 {
		t.Fatalf("batch 11..20 with 13 held: %+v; want multiple-ack 12, single acks 14..20", got)
	}
	l.nack(13)
	if got := flushLedger(&l); !slices.Equal(got.nacks, []uint64{13}) || got.to != 0 {
		t.Fatalf("the held retry: %+v; want nack 13 alone", got)
	}
	if l.unsettled() != 0 {
		t.Errorf("unsettled %d, want 0", l.unsettled())
	}
}
