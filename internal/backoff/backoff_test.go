package backoff

import (
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
