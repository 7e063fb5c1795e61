package benchkit

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/heraldkit/herald/adapters/memory"
)

func TestRunnerOnMemory(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var cleaned sync.Map
	cleanup := func(_ context.Context, topic, group string) error {
		cleaned.Store(topic, group)
		return nil
	}
	cases := HeraldCases("mem", "mem://benchkit-test", cleanup)
	var mu sync.Mutex
	var order []string
	finished := 0
	rn := Runner{
		Rounds: 2,
		Sizes:  []int{100, 1024},
		N:      func(size int) int { return 300 },
		Progress: func(p Progress) {
			mu.Lock()
			defer mu.Unlock()
			if p.Got == 0 && !p.Finished {
				order = append(order, p.Case.Name)
			}
			if p.Finished {
				finished++
				if p.Err != nil {
					t.Errorf("%s: %v", p.Case.Name, p.Err)
				}
			}
		},
	}
	rep, err := rn.Run(ctx, cases)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(cases) * 2 * 2; finished != want {
		t.Errorf("%d runs finished; want %d", finished, want)
	}
	// Interleaved: A B C ... A B C ...
	if len(order) >= 2*len(cases) && (order[0] != cases[0].Name || order[len(cases)] != cases[0].Name || order[1] != cases[1].Name) {
		t.Errorf("run order %v is not interleaved", order)
	}
	for _, r := range rep.Results {
		if len(r.Samples) != 2 {
			t.Errorf("%s %d B: %d samples; want 2", r.Case, r.Size, len(r.Samples))
			continue
		}
		s := r.Summary
		if s.E2ERate.Median <= 0 || s.PublishRate.Median <= 0 || s.P50.Median <= 0 || s.P99.Median < s.P50.Median || s.AllocsPerMsg.Median <= 0 {
			t.Errorf("%s %d B: implausible summary %+v", r.Case, r.Size, s)
		}
	}
	n := 0
	cleaned.Range(func(_, _ any) bool { n++; return true })
	if n != len(cases)*2*2 {
		t.Errorf("cleanup called for %d topics; want one per run, %d", n, len(cases)*2*2)
	}
	var b strings.Builder
	if err := rep.WriteText(&b); err != nil || !strings.Contains(b.String(), NameHeraldB100C8) {
		t.Errorf("text: %v\n%s", err, b.String())
	}
}

func TestRunnerRecordsFailures(t *testing.T) {
	boom := errors.New("boom")
	cases := []Case{
		{Broker: "x", Name: "fails", Run: func(context.Context, *Run) error { return boom }},
		{Broker: "x", Name: "short", Run: func(ctx context.Context, r *Run) error {
			return r.Publish(ctx, 1, 1, func(context.Context, int, int) error { return nil }) // nothing consumed
		}},
		{Broker: "x", Name: "ok", Run: func(ctx context.Context, r *Run) error {
			if err := r.Publish(ctx, 2, 5, func(_ context.Context, from, to int) error {
				for i := from; i < to; i++ {
					r.Received(r.Payload(i))
				}
				return nil
			}); err != nil {
				return err
			}
			return r.Wait(ctx)
		}},
	}
	rep, err := (&Runner{N: func(int) int { return 50 }}).Run(context.Background(), cases)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "case returned after 0 of 50") {
		t.Errorf("err = %v; want boom and the short case", err)
	}
	if r := rep.Result("x", "ok", 1024); r == nil || len(r.Samples) != 1 || r.Summary.E2ERate.Median <= 0 {
		t.Errorf("the good case was not measured: %+v", r)
	}
	if r := rep.Result("x", "fails", 1024); r == nil || len(r.Errors) != 1 || len(r.Samples) != 0 {
		t.Errorf("the failing case: %+v", r)
	}
	if _, err := (&Runner{}).Run(context.Background(), []Case{cases[2], cases[2]}); err == nil {
		t.Error("a case given twice was accepted")
	}
}

func TestRunnerTinyPayloads(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := HeraldCase(HeraldOptions{Broker: "mem", Target: "mem://benchkit-tiny", Publishers: 2})
	rep, err := (&Runner{Sizes: []int{0, 8}, N: func(int) int { return 100 }}).Run(ctx, []Case{c})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if len(r.Samples) != 1 || r.Summary.E2ERate.Median <= 0 || r.Summary.P50.Median != 0 {
			t.Errorf("%d B: %+v; want a rate and no latency", r.Size, r.Summary)
		}
	}
}

func TestRunnerCaseN(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	base := HeraldCase(HeraldOptions{Broker: "mem", Name: NameHeraldB100C1, Target: "mem://benchkit-n", Batch: 100})
	big := HeraldCase(HeraldOptions{Broker: "mem", Name: NameHeraldB100C1x10, Target: "mem://benchkit-n", Batch: 100, Keys: 4,
		N: func(size int) int {
			if size > 1024 {
				return 0 // not at this size
			}
			return 1000
		}})
	rep, err := (&Runner{Sizes: []int{1024, 4096}, N: func(int) int { return 100 }}).Run(ctx, []Case{base, big})
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.Result("mem", NameHeraldB100C1x10, 1024); r == nil || r.N != 1000 || len(r.Samples) != 1 {
		t.Errorf("the x10 case at 1 KiB: %+v; want 1000 messages, measured", r)
	}
	if r := rep.Result("mem", NameHeraldB100C1x10, 4096); r != nil {
		t.Errorf("the x10 case ran at 4 KiB: %+v", r)
	}
	if r := rep.Result("mem", NameHeraldB100C1, 4096); r == nil || r.N != 100 {
		t.Errorf("the base case at 4 KiB: %+v", r)
	}
	found := false
	for _, ra := range rep.Ratios {
		if ra.Metric == MetricRSS && ra.Size == 1024 && ra.Value > 0 {
			found = true
		}
	}
	if _, ok := readRSS(); ok && !found {
		t.Errorf("no peak RSS growth ratio at 1 KiB: %+v", rep.Ratios)
	}
}
