package middleware

import (
	"errors"
	"testing"
	"time"

	"github.com/heraldkit/herald"
)

func TestBackoff(t *testing.T) {
	c := retryConfig{initial: 100 * time.Millisecond, multiplier: 2, maxDelay: time.Second, jitter: 0.5}
	for _, tc := range []struct {
		n    int
		r    float64
		want time.Duration
	}{
		{1, 0.5, 100 * time.Millisecond},
		{2, 0.5, 200 * time.Millisecond},
		{3, 0, 200 * time.Millisecond}, // 400ms * (1-0.5)
		{3, 1, 600 * time.Millisecond}, // 400ms * (1+0.5)
		{4, 1, time.Second},            // 800ms * 1.5 capped
		{10, 0, 500 * time.Millisecond},
		{200, 0.5, time.Second}, // no overflow
	} {
		c.rand = func() float64 { return tc.r }
		if got := c.backoff(tc.n, errors.New("x")); got != tc.want {
			t.Errorf("backoff(%d) with rand %v = %v; want %v", tc.n, tc.r, got, tc.want)
		}
	}
	c.rand = func() float64 { return 0.5 }
	if got := c.backoff(1, herald.RetryAfter(errors.New("x"), 5*time.Second)); got != 5*time.Second {
		t.Errorf("backoff with RetryAfter(5s) = %v; want 5s", got)
	}
	c.maxDelay = 0
	if got := c.backoff(100, errors.New("x")); got <= 0 {
		t.Errorf("uncapped backoff(100) = %v; want a huge positive delay", got)
	}
}

func TestLRU(t *testing.T) {
	now := time.Unix(0, 0)
	c := newLRU[int](2, time.Minute, func() time.Time { return now })
	c.put("a", 1)
	c.put("b", 2)
	if v, ok := c.get("a"); !ok || v != 1 {
		t.Fatalf("get(a) = %v, %v", v, ok)
	}
	c.put("c", 3) // evicts b, the least recently used
	if _, ok := c.get("b"); ok {
		t.Fatal("b should have been evicted")
	}
	if c.len() != 2 {
		t.Fatalf("len = %d; want 2", c.len())
	}
	now = now.Add(time.Minute)
	if _, ok := c.get("a"); ok {
		t.Fatal("a should have expired")
	}
	c.put("c", 4)
	if v, _ := c.get("c"); v != 4 {
		t.Fatalf("get(c) = %d; want 4", v)
	}
	c.remove("c")
	if _, ok := c.get("c"); ok {
		t.Fatal("c should have been removed")
	}
}

func TestTruncate(t *testing.T) {
	if got := truncate("short", 10); got != "short" {
		t.Errorf("truncate = %q", got)
	}
	got := truncate("héllo wörld", 6)
	if len(got) > 6 || got != "h…" && got != "hé…" {
		t.Errorf("truncate = %q (len %d); want at most 6 bytes ending in …", got, len(got))
	}
}
