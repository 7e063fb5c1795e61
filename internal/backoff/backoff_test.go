package backoff

import (
	"context"
	"math"
	"testing"
	"time"
)

func TestExp(t *testing.T) {
	for _, c := range []struct {
		n    int
		want time.Duration
	}{{0, 100 * time.Millisecond}, {1, 100 * time.Millisecond}, {2, 200 * time.Millisecond}, {4, 800 * time.Millisecond}, {10, time.Second}, {1 << 30, time.Second}} {
		if got := Exp(c.n, 100*time.Millisecond, time.Second); got != c.want {
			t.Errorf("Exp(%d) = %v, want %v", c.n, got, c.want)
		}
	}
	if got := (Policy{Base: time.Millisecond, Limit: 3 * time.Millisecond}).Delay(3); got != 3*time.Millisecond {
		t.Errorf("Delay(3) = %v", got)
	}
}

// TestNoSpin: whatever the bounds, a delay is at least MinDelay (a loop
// waiting it cannot spin), at most the limit, never negative, and
// computing it is quick even for huge attempt counts or limits.
func TestNoSpin(t *testing.T) {
	for _, c := range []struct{ base, limit time.Duration }{
		{0, 0}, {0, time.Second}, {-time.Second, time.Second}, {time.Second, 0}, {time.Second, -1},
		{time.Nanosecond, time.Duration(math.MaxInt64)}, {time.Hour, time.Duration(math.MaxInt64)},
	} {
		for _, n := range []int{math.MinInt, -1, 0, 1, 2, 63, 64, 1 << 40, math.MaxInt} {
			d := Exp(n, c.base, c.limit)
			if d < MinDelay || d > max(c.limit, c.base, MinDelay) {
				t.Errorf("Exp(%d, %v, %v) = %v, want within [%v, limit]", n, c.base, c.limit, d, MinDelay)
			}
			p := Policy{Base: c.base, Limit: c.limit, Jitter: true}
			if j := p.Delay(n); j < MinDelay/2 || j > d {
				t.Errorf("Delay(%d) with jitter = %v, want within [MinDelay/2, %v]", n, j, d)
			}
		}
	}
}

// TestJitter: jittered delays spread over [d/2, d).
func TestJitter(t *testing.T) {
	p := Policy{Base: 100 * time.Millisecond, Limit: time.Second, Jitter: true}
	seen := map[time.Duration]bool{}
	for range 200 {
		d := p.Delay(3) // 400ms before jitter
		if d < 200*time.Millisecond || d >= 400*time.Millisecond {
			t.Fatalf("Delay(3) = %v, want within [200ms, 400ms)", d)
		}
		seen[d] = true
	}
	if len(seen) < 10 {
		t.Errorf("200 jittered delays took %d values only", len(seen))
	}
}

// TestRetry: a Retry grows its delay per failure, up to the limit, and
// starts again after Reset.
func TestRetry(t *testing.T) {
	r := Policy{Base: 10 * time.Millisecond, Limit: 40 * time.Millisecond}.Start()
	var got []time.Duration
	for range 4 {
		got = append(got, r.Next())
	}
	want := []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 40 * time.Millisecond}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("delays %v, want %v", got, want)
		}
	}
	if r.Failures() != 4 {
		t.Errorf("Failures = %d, want 4", r.Failures())
	}
	r.Reset()
	if d := r.Next(); d != 10*time.Millisecond {
		t.Errorf("after Reset: %v, want 10ms", d)
	}
	for range 1000 {
		r.Next()
	}
	if d := r.Next(); d != 40*time.Millisecond {
		t.Errorf("after 1000 failures: %v, want the limit", d)
	}
}

// TestWait: Wait returns true after the delay, false at once when ctx
// ends or a stop channel closes.
func TestWait(t *testing.T) {
	if !Wait(context.Background(), time.Millisecond) {
		t.Error("Wait(1ms) = false")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if Wait(ctx, time.Hour) {
		t.Error("Wait with an ended ctx = true")
	}
	stop := make(chan struct{})
	close(stop)
	if Wait(context.Background(), time.Hour, nil, stop) {
		t.Error("Wait with a closed stop channel = true")
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Wait took %v after its ctx or stop channel ended", took)
	}
}
