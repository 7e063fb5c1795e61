package faults

import (
	"strconv"
	"testing"
	"time"
)

// The counts: lost, rolled-back published, duplicates, messages in doubt
// resolved from the table, catch-up per fault.
func TestFigures(t *testing.T) {
	tl := newTally()
	first := tl.alloc(6)
	tl.end(first, 2, committed)    // 0, 1
	tl.end(first+2, 1, rolledBack) // 2
	tl.end(first+3, 2, inDoubt)    // 3 committed (in the table), 4 not
	fault := time.Now()
	tl.end(first+5, 1, committed) // 5, after the fault
	base := time.Now()
	tl.delivered("0", base.Add(2*time.Second))
	tl.delivered("0", base.Add(3*time.Second))
	tl.delivered("2", base)
	tl.delivered("3", base.Add(time.Second))
	tl.delivered("5", base)
	tl.delivered("x", base)
	if n := tl.missing(); n != 1 {
		t.Fatalf("missing %d, want 1 (message 1)", n)
	}
	bad := tl.resolve(func(seq int) bool { return seq == 3 || seq == 2 })
	if len(bad) != 1 || bad[0] != 2 {
		t.Fatalf("rolled back and in the table: %v, want [2]", bad)
	}
	f := tl.figures([]time.Time{fault})
	want := Figures{Committed: 4, RolledBack: 2, InDoubt: 2, Delivered: 4, Lost: 1, RolledBackPublished: 1, Duplicates: 1, Unknown: 1, CatchUpSec: -1}
	if f.Committed != want.Committed || f.RolledBack != want.RolledBack || f.InDoubt != want.InDoubt || f.Delivered != want.Delivered ||
		f.Lost != want.Lost || f.RolledBackPublished != want.RolledBackPublished || f.Duplicates != want.Duplicates ||
		f.Unknown != want.Unknown || f.CatchUpSec != want.CatchUpSec {
		t.Fatalf("figures %+v\nwant    %+v", f, want)
	}
	if len(f.LostIDs) != 1 || f.LostIDs[0] != 1 {
		t.Errorf("lost IDs %v, want [1]", f.LostIDs)
	}
	tl.delivered(strconv.Itoa(1), base.Add(4*time.Second)) // 1 arrives late: caught up 4 s after base
	f = tl.figures([]time.Time{fault})
	if f.Lost != 0 || f.CatchUpSec < 4 || f.CatchUpSec > 5 {
		t.Errorf("after the late delivery: lost %d, catch-up %.2fs; want 0 and about 4 s", f.Lost, f.CatchUpSec)
	}
}
