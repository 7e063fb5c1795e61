package flow

import (
	"math/rand/v2"
	"testing"
)

func TestWatermarkNeverPassesAnUnsettledNumber(t *testing.T) {
	for round := 0; round < 200; round++ {
		var w Watermark
		n := 1 + rand.IntN(300)
		seqs := make([]uint64, n)
		next := uint64(rand.IntN(10))
		for i := range seqs {
			next += 1 + uint64(rand.IntN(3)) // gaps
			seqs[i] = next
			w.Add(next)
		}
		settled := map[uint64]bool{}
		var mark uint64
		for _, i := range rand.Perm(n) {
			settled[seqs[i]] = true
			up, ok := w.Done(seqs[i])
			if ok {
				if up < mark {
					t.Fatalf("watermark went back from %d to %d", mark, up)
				}
				mark = up
			}
			// Every added number <= mark is settled; the next one is not.
			for _, s := range seqs {
				if s <= mark && !settled[s] {
					t.Fatalf("watermark %d passes unsettled %d", mark, s)
				}
			}
		}
		if mark != seqs[n-1] || w.Pending() != 0 {
			t.Fatalf("all settled: watermark %d (want %d), pending %d", mark, seqs[n-1], w.Pending())
		}
	}
}

func TestWatermarkIgnoresUnknownAndRepeated(t *testing.T) {
	var w Watermark
	w.Add(5)
	w.Add(7)
	if _, ok := w.Done(6); ok {
		t.Error("settling a number never added advanced the watermark")
	}
	if up, ok := w.Done(5); !ok || up != 5 {
		t.Errorf("Done(5) = %d, %v; want 5, true", up, ok)
	}
	if _, ok := w.Done(5); ok {
		t.Error("settling twice advanced the watermark")
	}
	w.Reset()
	if w.Pending() != 0 {
		t.Error("Reset left numbers pending")
	}
}

func BenchmarkWatermark(b *testing.B) {
	var w Watermark
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		w.Add(uint64(i))
		if i >= 64 {
			w.Done(uint64(i - 64))
		}
	}
}
