package benchkit

import (
	"slices"
	"time"
)

// Sample is what one round of one case measured.
type Sample struct {
	PublishRate  float64       `json:"publish_msgs_per_s"` // N / time until the last publish returned
	E2ERate      float64       `json:"e2e_msgs_per_s"`     // N / time until the last message was received
	P50          time.Duration `json:"p50_ns"`             // end-to-end latency percentiles (0: not measured)
	P95          time.Duration `json:"p95_ns"`
	P99          time.Duration `json:"p99_ns"`
	AllocsPerMsg float64       `json:"allocs_per_msg"` // whole process, over the timed part
	PeakRSS      uint64        `json:"peak_rss_bytes"` // 0: not measured on this OS
	Duplicates   int64         `json:"duplicates"`     // redelivered messages seen during the run
	// CPUPerMsg is this process's user+system CPU time over the timed
	// part, in µs per message (every goroutine: the client's too).
	CPUPerMsg float64 `json:"cpu_us_per_msg"`
	// BrokerCPUPerMsg is the broker process's, read from /proc (0: not
	// measured: no pid given, or no /proc).
	BrokerCPUPerMsg float64 `json:"broker_cpu_us_per_msg"`
}

// Stat summarises one figure over rounds.
type Stat struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

// Spread is (Max-Min)/Median, 0 when the median is 0.
func (s Stat) Spread() float64 {
	if s.Median == 0 {
		return 0
	}
	return (s.Max - s.Min) / s.Median
}

// summarize returns the median, minimum and maximum of xs; the median of
// an even count is the mean of the middle two.
func summarize(xs []float64) Stat {
	if len(xs) == 0 {
		return Stat{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	med := s[m]
	if len(s)%2 == 0 {
		med = (s[m-1] + s[m]) / 2
	}
	return Stat{Median: med, Min: s[0], Max: s[len(s)-1]}
}

// percentiles returns the 50th, 95th and 99th percentiles (nearest rank)
// of latencies in ns. It sorts lat in place.
func percentiles(lat []int64) (p50, p95, p99 time.Duration) {
	if len(lat) == 0 {
		return 0, 0, 0
	}
	slices.Sort(lat)
	at := func(p float64) time.Duration {
		i := int(p*float64(len(lat))+0.999999) - 1 // nearest rank: ceil(p*n)-1
		i = max(0, min(i, len(lat)-1))
		return time.Duration(lat[i])
	}
	return at(0.50), at(0.95), at(0.99)
}

// Summary is a case's figures over its rounds.
type Summary struct {
	PublishRate  Stat `json:"publish_msgs_per_s"`
	E2ERate      Stat `json:"e2e_msgs_per_s"`
	P50          Stat `json:"p50_ns"`
	P95          Stat `json:"p95_ns"`
	P99          Stat `json:"p99_ns"`
	AllocsPerMsg Stat `json:"allocs_per_msg"`
	PeakRSS      Stat `json:"peak_rss_bytes"`
	CPUPerMsg    Stat `json:"cpu_us_per_msg"`
	BrokerCPU    Stat `json:"broker_cpu_us_per_msg"`
}

// summarizeSamples summarises every figure of samples.
func summarizeSamples(samples []Sample) Summary {
	pick := func(f func(Sample) float64) Stat {
		xs := make([]float64, len(samples))
		for i, s := range samples {
			xs[i] = f(s)
		}
		return summarize(xs)
	}
	return Summary{
		PublishRate:  pick(func(s Sample) float64 { return s.PublishRate }),
		E2ERate:      pick(func(s Sample) float64 { return s.E2ERate }),
		P50:          pick(func(s Sample) float64 { return float64(s.P50) }),
		P95:          pick(func(s Sample) float64 { return float64(s.P95) }),
		P99:          pick(func(s Sample) float64 { return float64(s.P99) }),
		AllocsPerMsg: pick(func(s Sample) float64 { return s.AllocsPerMsg }),
		PeakRSS:      pick(func(s Sample) float64 { return float64(s.PeakRSS) }),
		CPUPerMsg:    pick(func(s Sample) float64 { return s.CPUPerMsg }),
		BrokerCPU:    pick(func(s Sample) float64 { return s.BrokerCPUPerMsg }),
	}
}
