package benchkit

import (
	"context"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want Stat
	}{
		{nil, Stat{}},
		{[]float64{5}, Stat{5, 5, 5}},
		{[]float64{3, 1, 2}, Stat{2, 1, 3}},
		{[]float64{4, 1, 3, 2}, Stat{2.5, 1, 4}},
	} {
		if got := summarize(tc.in); got != tc.want {
			t.Errorf("summarize(%v) = %+v; want %+v", tc.in, got, tc.want)
		}
	}
	if got := (Stat{Median: 10, Min: 8, Max: 13}).Spread(); got != 0.5 {
		t.Errorf("Spread = %v; want 0.5", got)
	}
}

func TestPercentiles(t *testing.T) {
	lat := make([]int64, 1000)
	for i := range lat {
		lat[i] = int64(1000 - i) // 1000..1, unsorted
	}
	p50, p95, p99 := percentiles(lat)
	if p50 != 500 || p95 != 950 || p99 != 990 {
		t.Errorf("percentiles = %d, %d, %d; want 500, 950, 990", p50, p95, p99)
	}
	if a, b, c := percentiles(nil); a != 0 || b != 0 || c != 0 {
		t.Errorf("percentiles(nil) = %v %v %v", a, b, c)
	}
	one := []int64{int64(3 * time.Millisecond)}
	if a, _, c := percentiles(one); a != 3*time.Millisecond || c != 3*time.Millisecond {
		t.Errorf("percentiles of one = %v, %v", a, c)
	}
}

func TestParseVmRSS(t *testing.T) {
	status := []byte("Name:\tx\nVmPeak:\t  9999 kB\nVmRSS:\t   2048 kB\nThreads: 3\n")
	if v, ok := parseVmRSS(status); !ok || v != 2048*1024 {
		t.Errorf("parseVmRSS = %d, %v; want %d", v, ok, 2048*1024)
	}
	if _, ok := parseVmRSS([]byte("Name: x\n")); ok {
		t.Error("parseVmRSS without a VmRSS line reported ok")
	}
}

func TestRunCountsDistinctAndLatency(t *testing.T) {
	r := NewRun(3, 64)
	r.Start()
	p0, p1, p2 := r.Payload(0), r.Payload(1), r.Payload(2)
	time.Sleep(2 * time.Millisecond)
	r.Received(p0)
	if r.Received(p0) {
		t.Error("a duplicate was counted")
	}
	if r.Received(r.Payload(7)) {
		t.Error("a sequence number past N was counted")
	}
	r.Received(p1)
	select {
	case <-r.Done():
		t.Fatal("done after 2 of 3")
	default:
	}
	r.Published()
	r.Received(p2)
	<-r.Done()
	r.stopMeasuring()
	s := r.sample()
	if s.Duplicates != 1 {
		t.Errorf("Duplicates = %d; want 1", s.Duplicates)
	}
	if s.P50 < 2*time.Millisecond || s.P99 < s.P50 {
		t.Errorf("latencies p50 %v p99 %v; want >= 2ms, ordered", s.P50, s.P99)
	}
	if s.E2ERate <= 0 || s.PublishRate < s.E2ERate {
		t.Errorf("rates publish %v e2e %v; want publish >= e2e > 0", s.PublishRate, s.E2ERate)
	}
	if _, ok := readRSS(); ok && s.PeakRSS == 0 {
		t.Error("PeakRSS 0 where /proc/self/status is readable")
	}
}

func TestWarmUpWaitsForQuickRoundTrips(t *testing.T) {
	old := WarmUpRoundTrip
	WarmUpRoundTrip = 50 * time.Millisecond
	defer func() { WarmUpRoundTrip = old }()
	r := NewRun(10, 64)
	sends := 0
	err := r.WarmUp(context.Background(), func(_ context.Context, p []byte) error {
		sends++
		delay := time.Duration(0)
		if sends <= 2 || sends == 4 { // settling: slow round trips reset the streak
			delay = 100 * time.Millisecond
		}
		time.AfterFunc(delay, func() { r.Received(p) })
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if sends != 7 {
		t.Errorf("%d warm-up sends; want 7 (2 slow, 1 quick, 1 slow, then 3 quick)", sends)
	}
	if r.Got() != 0 {
		t.Errorf("warm-up messages counted: Got = %d", r.Got())
	}
}
