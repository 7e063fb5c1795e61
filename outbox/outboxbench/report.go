package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// report prints the medians (min..max over rounds) of every case as a
// Markdown table, then the ratios the issue sets targets for.
func report(w io.Writer, cfg config, names []string, results map[string][]result) {
	fmt.Fprintf(w, "\nCommand: `go run . %s` (outbox/outboxbench)  \n", strings.Join(os.Args[1:], " "))
	fmt.Fprintf(w, "Date: %s  \n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(w, "n = %d messages per flat-out case (%d writers, %d message(s) per transaction), %d per paced case (one writer, %.0f/s); payload %d B; %d round(s), medians (min..max)\n\n",
		cfg.n, cfg.writers, cfg.perTx, cfg.pacedN, cfg.pacedRate, cfg.size, cfg.rounds)
	fmt.Fprintln(w, "| case | throughput msg/s | writers msg/s | p50 commit to handler | p99 | max pending | pending at half / end of writes | duplicates | CPU µs/msg: this process / broker / PostgreSQL |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	med := map[string]result{}
	for _, name := range names {
		rs := results[name]
		if len(rs) == 0 {
			continue
		}
		tp := floats(rs, func(r result) float64 { return r.throughput })
		wr := floats(rs, func(r result) float64 { return r.writeRate })
		p50 := durs(rs, func(r result) time.Duration { return r.p50 })
		p99 := durs(rs, func(r result) time.Duration { return r.p99 })
		mp := floats(rs, func(r result) float64 { return float64(r.maxPending) })
		var dups int64
		for _, r := range rs {
			dups += r.dups
		}
		ph := floats(rs, func(r result) float64 { return float64(r.pendingHalf) })
		pe := floats(rs, func(r result) float64 { return float64(r.pendingEnd) })
		cpu := cpuCell(rs)
		med[name] = result{throughput: median(tp), p50: median(p50), maxPending: int64(median(mp)), pendingHalf: int64(median(ph)), pendingEnd: int64(median(pe))}
		if strings.HasPrefix(name, "insert/") {
			fmt.Fprintf(w, "| %s | %s | %s | | | | | | %s |\n", name, rangeF(tp), rangeF(wr), cpu)
			continue
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s / %s | %d | %s |\n", name, rangeF(tp), rangeF(wr), rangeD(p50), rangeD(p99), rangeF(mp), rangeF(ph), rangeF(pe), dups, cpu)
	}
	fmt.Fprintln(w)
	if h, ok := med["herald/pg"]; ok {
		if wm, ok := med["watermill/pg"]; ok && wm.throughput > 0 {
			fmt.Fprintf(w, "- writers flat out, relay / Watermill forwarder, PostgreSQL: %.1fx (target >= 2x)\n", h.throughput/wm.throughput)
		}
		if in, ok := med["insert/pg"]; ok && in.throughput > 0 {
			fmt.Fprintf(w, "- writers flat out, relay / plain insert rate, PostgreSQL: %.2fx\n", h.throughput/in.throughput)
		}
	}
	if h, ok := med["drain-herald/pg"]; ok {
		if wm, ok := med["drain-watermill/pg"]; ok && wm.throughput > 0 {
			fmt.Fprintf(w, "- forwarding alone (drain), relay / Watermill forwarder, PostgreSQL: %.1fx (target >= 2x)\n", h.throughput/wm.throughput)
		}
		if in, ok := med["insert/pg"]; ok && in.throughput > 0 {
			fmt.Fprintf(w, "- forwarding alone (drain), relay / plain insert rate, PostgreSQL: %.2fx\n", h.throughput/in.throughput)
		}
	}
	if h, ok := med["drain-herald/sqlite"]; ok {
		if in, ok := med["insert/sqlite"]; ok && in.throughput > 0 {
			fmt.Fprintf(w, "- forwarding alone (drain), relay / plain insert rate, SQLite: %.2fx\n", h.throughput/in.throughput)
		}
	}
	if h, ok := med["herald/sqlite"]; ok {
		if in, ok := med["insert/sqlite"]; ok && in.throughput > 0 {
			fmt.Fprintf(w, "- writers flat out, relay / plain insert rate, SQLite: %.2fx\n", h.throughput/in.throughput)
		}
	}
	for _, name := range []string{"herald/pg", "herald/sqlite"} {
		if h, ok := med[name]; ok {
			verdict := "bounded"
			if float64(h.pendingEnd) > 1.25*float64(max(h.pendingHalf, 256)) {
				verdict = "growing"
			}
			fmt.Fprintf(w, "- writers flat out, %s: pending %d at half of the writes, %d at their end: %s\n", name, h.pendingHalf, h.pendingEnd, verdict)
		}
	}
	if h, ok := med["paced-herald/pg"]; ok {
		fmt.Fprintf(w, "- p50 commit to handler, relay with LISTEN/NOTIFY, paced: %v (target < 20ms)\n", h.p50.Round(10*time.Microsecond))
	}
}

// cpuCell is the median CPU per message of this process, the broker and
// PostgreSQL, "–" for what was not measured.
func cpuCell(rs []result) string {
	cell := func(f func(result) time.Duration) string {
		d := median(durs(rs, f))
		if d == 0 {
			return "–"
		}
		return fmt.Sprintf("%.0f", float64(d)/float64(time.Microsecond))
	}
	return cell(func(r result) time.Duration { return r.cpuSelf }) + " / " +
		cell(func(r result) time.Duration { return r.cpuBroker }) + " / " +
		cell(func(r result) time.Duration { return r.cpuPG })
}

func floats(rs []result, f func(result) float64) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = f(r)
	}
	slices.Sort(out)
	return out
}

func durs(rs []result, f func(result) time.Duration) []time.Duration {
	out := make([]time.Duration, len(rs))
	for i, r := range rs {
		out[i] = f(r)
	}
	slices.Sort(out)
	return out
}

func median[T float64 | time.Duration](s []T) T { return s[len(s)/2] }

func rangeF(s []float64) string {
	if len(s) == 1 {
		return si(s[0])
	}
	return fmt.Sprintf("%s (%s..%s)", si(median(s)), si(s[0]), si(s[len(s)-1]))
}

func rangeD(s []time.Duration) string {
	r := func(d time.Duration) string { return d.Round(10 * time.Microsecond).String() }
	if len(s) == 1 {
		return r(s[0])
	}
	return fmt.Sprintf("%s (%s..%s)", r(median(s)), r(s[0]), r(s[len(s)-1]))
}

func si(v float64) string {
	if v >= 1000 {
		return fmt.Sprintf("%.1fk", v/1000)
	}
	return fmt.Sprintf("%.0f", v)
}
