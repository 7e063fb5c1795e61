package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/internal/benchkit"
)

// benchCmd measures publish and end-to-end throughput, latency,
// allocations and peak RSS of one Herald configuration through the public
// API, with the engine of bench/ (internal/benchkit).
func benchCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs, url := newFlags("bench")
	topic := fs.String("topic", "", "topic (default: a fresh herald.bench.<id> per round)")
	n := fs.Int("n", 10000, "messages to send")
	size := fs.Int("size", 1024, "payload bytes (latency is measured from 16 bytes up)")
	publishers := fs.Int("publishers", 4, "concurrent publishers")
	batch := fs.Int("batch", 1, "messages per Publish call")
	concurrency := fs.Int("concurrency", 4, "subscriber concurrency")
	rounds := fs.Int("rounds", 1, "runs; figures are medians, with min..max")
	jsonOut := fs.Bool("json", false, "print the results as JSON")
	chart := fs.String("chart", "", "write an SVG chart of the end-to-end rate to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench: unexpected arguments %q", fs.Args())
	}
	if *chart != "" && !strings.EqualFold(filepath.Ext(*chart), ".svg") {
		return usagef("bench: -chart %q: the chart is an SVG; name the file *.svg", *chart)
	}
	if *n < 1 || *size < 0 || *publishers < 1 || *batch < 1 || *concurrency < 1 || *rounds < 1 {
		return fmt.Errorf("bench: -n, -publishers, -batch, -concurrency and -rounds must be at least 1, -size at least 0")
	}
	target := *url
	if target == "" {
		target = os.Getenv("HERALD_URL")
	}
	label, backend := "embedded", "the embedded broker (no -url, no $HERALD_URL)"
	if target != "" {
		label, _, _ = strings.Cut(target, ":")
		backend = label
		if cfg, err := herald.ParseURL(target); err == nil {
			backend = cfg.String() // passwords redacted
		}
	}
	c := benchkit.HeraldCase(benchkit.HeraldOptions{
		Broker: label, Target: *url, Topic: *topic,
		Publishers: *publishers, Batch: *batch, Concurrency: *concurrency,
	})
	rn := benchkit.Runner{
		Rounds:   *rounds,
		Sizes:    []int{*size},
		N:        func(int) int { return *n },
		Timeout:  24 * time.Hour, // bounded by ctx (Ctrl-C)
		Ratios:   []benchkit.RatioSpec{},
		Progress: progress(os.Stderr, isTerminal(os.Stderr)), // progress goes to stderr: results stay pipeable
	}
	rep, err := rn.Run(ctx, []benchkit.Case{c})
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	rep.Command = "herald bench " + strings.Join(args, " ")
	if *jsonOut {
		err = rep.WriteJSON(stdout)
	} else {
		err = writeBenchText(stdout, rep, c, backend, *publishers, *batch, *concurrency)
	}
	if err != nil {
		return err
	}
	if *chart != "" {
		f, err := os.Create(*chart)
		if err != nil {
			return fmt.Errorf("bench: -chart: %w", err)
		}
		if err := rep.WriteRatesSVG(f); err != nil {
			f.Close()
			return fmt.Errorf("bench: -chart: %w", err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("bench: -chart: %w", err)
		}
	}
	return nil
}

// writeBenchText prints the one case's figures.
func writeBenchText(w io.Writer, rep *benchkit.Report, c benchkit.Case, backend string, publishers, batch, concurrency int) error {
	r := rep.Result(c.Broker, c.Name, rep.Sizes[0])
	s := r.Summary
	rate := func(st benchkit.Stat) string {
		if len(r.Samples) < 2 {
			return fmt.Sprintf("%8.0f msg/s", st.Median)
		}
		return fmt.Sprintf("%8.0f msg/s  (%.0f..%.0f over %d rounds)", st.Median, st.Min, st.Max, len(r.Samples))
	}
	lat := func(ns float64) string {
		if ns <= 0 {
			return "-"
		}
		return time.Duration(ns).Round(time.Microsecond).String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "backend     %s\n", backend)
	fmt.Fprintf(&b, "messages    %d x %d B, %d publishers, batch %d, subscriber concurrency %d\n", r.N, r.Size, publishers, batch, concurrency)
	fmt.Fprintf(&b, "publish     %s\n", rate(s.PublishRate))
	fmt.Fprintf(&b, "end-to-end  %s\n", rate(s.E2ERate))
	fmt.Fprintf(&b, "latency     p50 %s  p95 %s  p99 %s\n", lat(s.P50.Median), lat(s.P95.Median), lat(s.P99.Median))
	fmt.Fprintf(&b, "allocs      %.1f per message (whole process)\n", s.AllocsPerMsg.Median)
	if s.PeakRSS.Median > 0 {
		fmt.Fprintf(&b, "peak RSS    %.1f MiB\n", s.PeakRSS.Median/(1<<20))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// isTerminal reports whether w (an io.Writer or io.Reader) is a terminal
// (a character device).
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progress reports on w: a line rewritten in place on a terminal, else a
// plain line per finished round.
func progress(w io.Writer, live bool) func(benchkit.Progress) {
	var mu sync.Mutex
	return func(p benchkit.Progress) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case live && !p.Finished:
			fmt.Fprintf(w, "\r\033[Kround %d/%d  %s %d/%d messages", p.Round, p.Rounds, bar(p.Got, p.N), p.Got, p.N)
		case live && p.Err == nil:
			fmt.Fprintf(w, "\r\033[Kround %d/%d  end-to-end %.0f msg/s\n", p.Round, p.Rounds, p.Sample.E2ERate)
		case live:
			fmt.Fprintf(w, "\r\033[K")
		case p.Finished && p.Err == nil:
			fmt.Fprintf(w, "round %d/%d  %d messages  end-to-end %.0f msg/s\n", p.Round, p.Rounds, p.N, p.Sample.E2ERate)
		}
	}
}

// barWidth is the number of cells of the progress bar.
const barWidth = 24

// bar draws done out of total as [#####.....].
func bar(done, total int64) string {
	n := 0
	if total > 0 {
		n = int(min(max(done*barWidth/total, 0), barWidth))
	}
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", barWidth-n) + "]"
}
