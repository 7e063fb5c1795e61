package kafka

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestOffsets: the commit offset is the one after the longest settled
// prefix, with its last record's leader epoch; settling twice, or a
// record never added, does nothing; a released record holds the commit.
func TestOffsets(t *testing.T) {
	var w offsets
	for _, r := range []struct {
		off   int64
		epoch int32
	}{{10, 3}, {11, 3}, {13, 4}, {14, 4}} { // 12: a gap (compacted)
		w.add(r.off, r.epoch)
	}
	step := func(off int64, wantOut bool, want kgo.EpochOffset, wantAdv bool) {
		t.Helper()
		out, next, adv := w.settle(off)
		if out != wantOut || adv != wantAdv || adv && next != want {
			t.Errorf("settle(%d) = %v, %+v, %v; want %v, %+v, %v", off, out, next, adv, wantOut, want, wantAdv)
		}
	}
	step(11, true, kgo.EpochOffset{}, false)
	step(11, false, kgo.EpochOffset{}, false) // twice
	step(12, false, kgo.EpochOffset{}, false) // never added
	step(10, true, kgo.EpochOffset{Epoch: 3, Offset: 12}, true)
	if !w.release(13) || w.release(13) {
		t.Error("release: want true once")
	}
	step(14, true, kgo.EpochOffset{}, false) // held behind the released 13
	if w.pending() != 2 {
		t.Errorf("pending %d; want 2 (13 released, 14 settled)", w.pending())
	}
	step(13, false, kgo.EpochOffset{Epoch: 4, Offset: 15}, true) // settled after all: not in the window any more
	for i := int64(15); i < 100; i++ {
		w.add(i, 4)
		step(i, true, kgo.EpochOffset{Epoch: 4, Offset: i + 1}, true)
	}
	if w.pending() != 0 || len(w.recs) > 64 {
		t.Errorf("pending %d, %d kept; want 0 and the slice compacted", w.pending(), len(w.recs))
	}
}
