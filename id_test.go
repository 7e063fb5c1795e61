package herald

import (
	"testing"
	"time"

	"github.com/oklog/ulid"
)

// The encoding is the ULID layout: oklog/ulid (what Watermill's NewULID
// uses) reads back the same time and random bits.
func TestNewIDIsULID(t *testing.T) {
	for _, c := range []struct{ ms, hi, lo uint64 }{
		{0, 0, 0},
		{1<<48 - 1, 0xffff, ^uint64(0)},
		{1764300000123, 0xa5c3, 0x0123456789abcdef},
	} {
		s := newULID(c.ms, c.hi, c.lo)
		id, err := ulid.ParseStrict(s)
		if err != nil {
			t.Fatalf("newULID(%d, %#x, %#x) = %q: %v", c.ms, c.hi, c.lo, s, err)
		}
		if id.Time() != c.ms {
			t.Errorf("%q: time %d, want %d", s, id.Time(), c.ms)
		}
		e := id.Entropy()
		if got := uint64(e[0])<<8 | uint64(e[1]); got != c.hi&0xffff {
			t.Errorf("%q: entropy high bits %#x, want %#x", s, got, c.hi&0xffff)
		}
		var lo uint64
		for _, b := range e[2:] {
			lo = lo<<8 | uint64(b)
		}
		if lo != c.lo {
			t.Errorf("%q: entropy low bits %#x, want %#x", s, lo, c.lo)
		}
		var want ulid.ULID
		_ = want.SetTime(c.ms)
		_ = want.SetEntropy(e)
		if want.String() != s {
			t.Errorf("newULID = %q, oklog/ulid encodes %q", s, want.String())
		}
	}
}

func TestNewIDUniqueAndTimeOrdered(t *testing.T) {
	before := uint64(time.Now().UnixMilli())
	seen := make(map[string]bool, 100000)
	for range 100000 {
		s := NewID()
		if seen[s] {
			t.Fatalf("NewID repeated %q", s)
		}
		seen[s] = true
	}
	after := uint64(time.Now().UnixMilli())
	for s := range seen {
		id, err := ulid.ParseStrict(s)
		if err != nil {
			t.Fatalf("NewID() = %q: %v", s, err)
		}
		if id.Time() < before || id.Time() > after {
			t.Fatalf("%q: time %d outside [%d, %d]", s, id.Time(), before, after)
		}
	}
}

func BenchmarkNewID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = NewID()
	}
}
