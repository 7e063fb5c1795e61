package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldkit/herald/internal/benchkit"
)

func TestBenchText(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	chart := filepath.Join(t.TempDir(), "bench.svg")
	var out bytes.Buffer
	err := run(ctx, []string{"bench", "-url", "mem://cli-bench-text", "-n", "300", "-publishers", "2", "-batch", "10",
		"-concurrency", "2", "-rounds", "2", "-chart", chart}, nil, &out)
	if err != nil {
		t.Fatalf("bench: %v", err)
	}
	for _, want := range []string{"backend     mem://cli-bench-text", "300 x 1024 B, 2 publishers, batch 10, subscriber concurrency 2",
		"publish ", "end-to-end ", "over 2 rounds", "latency     p50 ", " p95 ", " p99 ", "allocs "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("bench printed %q; want %q in it", out.String(), want)
		}
	}
	svg, err := os.ReadFile(chart)
	if err != nil || !bytes.HasPrefix(svg, []byte("<svg")) || !bytes.Contains(svg, []byte("herald-b10-c2")) {
		t.Errorf("chart %q, %v; want an SVG with the case", svg, err)
	}
}

func TestBenchJSON(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, []string{"bench", "-url", "mem://cli-bench-json", "-n", "200", "-json"}, nil, &out); err != nil {
		t.Fatalf("bench: %v", err)
	}
	var rep benchkit.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("-json printed %q: %v", out.String(), err)
	}
	if len(rep.Results) != 1 || len(rep.Results[0].Samples) != 1 || rep.Results[0].Summary.P99.Median <= 0 || rep.Results[0].N != 200 {
		t.Errorf("JSON report %+v; want one result with one sample of 200 messages and latencies", rep.Results)
	}
}

func TestBenchTinyPayload(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	// -size 0 worked before latency was measured and still does.
	if err := run(ctx, []string{"bench", "-url", "mem://cli-bench-tiny", "-n", "100", "-size", "0"}, nil, &out); err != nil {
		t.Fatalf("bench: %v", err)
	}
	if !strings.Contains(out.String(), "latency     p50 -") {
		t.Errorf("bench printed %q; want no latency for empty payloads", out.String())
	}
}

func TestBenchErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "-rounds", "0"}, "must be at least 1"},
		{[]string{"bench", "-size", "-1"}, "-size at least 0"},
		{[]string{"bench", "extra"}, `unexpected arguments ["extra"]`},
		{[]string{"bench", "-chart", "out.png"}, "name the file *.svg"},
		{[]string{"bench", "-url", "bogus://h", "-n", "1"}, "registered schemes"},
	} {
		err := run(ctx, tc.args, nil, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run(%q) = %v; want an error containing %q", tc.args, err, tc.want)
		}
	}
}

func TestBenchProgress(t *testing.T) {
	if isTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is a terminal")
	}
	c := benchkit.Case{Name: "herald-p1-c1"}
	var plain, live bytes.Buffer
	for _, p := range []benchkit.Progress{
		{Round: 1, Rounds: 2, Case: c, Got: 10, N: 100},
		{Round: 1, Rounds: 2, Case: c, Got: 100, N: 100, Finished: true, Sample: benchkit.Sample{E2ERate: 1234}},
	} {
		progress(&plain, false)(p)
		progress(&live, true)(p)
	}
	if plain.String() != "round 1/2  100 messages  end-to-end 1234 msg/s\n" {
		t.Errorf("plain progress %q", plain.String())
	}
	if !strings.Contains(live.String(), "\r\033[Kround 1/2  [##......................] 10/100 messages") || !strings.HasSuffix(live.String(), "end-to-end 1234 msg/s\n") {
		t.Errorf("live progress %q", live.String())
	}
}

func TestBenchBar(t *testing.T) {
	for _, tc := range []struct {
		done, total int64
		want        string
	}{
		{0, 100, "[" + strings.Repeat(".", barWidth) + "]"},
		{50, 100, "[" + strings.Repeat("#", barWidth/2) + strings.Repeat(".", barWidth/2) + "]"},
		{100, 100, "[" + strings.Repeat("#", barWidth) + "]"},
		{150, 100, "[" + strings.Repeat("#", barWidth) + "]"},
		{1, 0, "[" + strings.Repeat(".", barWidth) + "]"},
	} {
		if got := bar(tc.done, tc.total); got != tc.want {
			t.Errorf("bar(%d, %d) = %q; want %q", tc.done, tc.total, got, tc.want)
		}
	}
}
