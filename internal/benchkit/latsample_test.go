package benchkit

import "testing"

// A run keeps at most maxLatSamples latencies, spread over the whole run,
// so its own memory does not grow with n.
func TestLatencySamplesBounded(t *testing.T) {
	n := 5*maxLatSamples + 7
	r := NewRun(n, 64)
	if len(r.lat) > maxLatSamples {
		t.Fatalf("run of %d keeps %d latencies, want at most %d", n, len(r.lat), maxLatSamples)
	}
	r.Start()
	payloads := make([][]byte, n)
	for seq := range payloads {
		payloads[seq] = r.Payload(seq)
	}
	for seq, p := range payloads {
		if !r.Received(p) {
			t.Fatalf("Received(%d) = false for a new message", seq)
		}
	}
	select {
	case <-r.Done():
	default:
		t.Fatal("all messages received, the run is not done")
	}
	for i, l := range r.lat {
		if l <= 0 {
			t.Fatalf("latency sample %d (message %d) not recorded", i, uint64(i)*r.stride)
		}
	}
	if s := r.sample(); s.P50 <= 0 || s.P99 < s.P50 {
		t.Errorf("percentiles p50 %v p99 %v from the samples", s.P50, s.P99)
	}
}
