package benchkit

import (
	"fmt"
	"time"
)

// fmtRate formats msg/s: 950, 12.3k, 1.25M.
func fmtRate(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	case v >= 1e3:
		return fmt.Sprintf("%.2fk", v/1e3)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}

// fmtStat formats a rate's median and range: "12.3k (11.9k..12.8k)".
func fmtStat(s Stat, rounds int) string {
	if rounds < 2 {
		return fmtRate(s.Median)
	}
	return fmt.Sprintf("%s (%s..%s)", fmtRate(s.Median), fmtRate(s.Min), fmtRate(s.Max))
}

// fmtLatency formats a latency given in ns; "-" for 0 (not measured).
func fmtLatency(ns float64) string {
	if ns <= 0 {
		return "-"
	}
	d := time.Duration(ns)
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.0fµs", float64(d)/1e3)
	}
}

// fmtBytes formats a byte count in MiB; "-" for 0 (not measured).
func fmtBytes(b float64) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f MiB", b/(1<<20))
}

// fmtSize formats a payload size: 100 B, 1 KiB, 64 KiB.
func fmtSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	default:
		return fmt.Sprintf("%d B", n)
	}
}

// fmtRatio formats a ratio: 0.42x.
func fmtRatio(v float64) string { return fmt.Sprintf("%.2fx", v) }

// fmtCPU formats a CPU time in µs per message; 0 (not measured) is "–".
func fmtCPU(us float64) string {
	if us <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", us)
}
