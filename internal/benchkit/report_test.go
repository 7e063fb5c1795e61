package benchkit

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"
	"time"
)

// syntheticReport has kafka and nats at 1 KiB with three rounds each;
// nats lacks the Watermill case and the 16-sync pair, kafka's Herald
// batch case failed in one round.
func syntheticReport() *Report {
	rep := &Report{
		Command: "go run ./bench -n 1000",
		Date:    time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC),
		Machine: Machine{Cores: 2, CPU: "Test CPU", OS: "linux", Arch: "amd64", GoVersion: "go1.26.8"},
		Rounds:  3,
		Sizes:   []int{1024},
		Notes:   []string{"Clients: franz-go v1.22.2."},
	}
	add := func(broker, name string, e2e ...float64) *Result {
		r := &Result{Broker: broker, Case: name, Desc: name + " | desc", Size: 1024, N: 1000}
		for i, v := range e2e {
			r.Samples = append(r.Samples, Sample{PublishRate: v * 1.1, E2ERate: v, P50: time.Duration(i+1) * time.Millisecond,
				P95: 5 * time.Millisecond, P99: 9 * time.Millisecond, AllocsPerMsg: v / 1000, PeakRSS: 64 << 20, CPUPerMsg: 2.5})
		}
		rep.Results = append(rep.Results, r)
		return r
	}
	add("kafka", NameNative, 100000, 120000, 90000)
	add("kafka", NameNativeSync16, 20000, 21000, 19000)
	add("kafka", NameWatermill, 5000, 6000, 4000)
	add("kafka", NameHeraldP1, 4000, 4400, 4200)
	add("kafka", NameHeraldP16C1, 15000, 16000, 14000)
	add("kafka", NameHeraldP16C8, 19000, 19500, 18000)
	b := add("kafka", NameHeraldB100C1, 60000, 50000)
	b.Errors = []string{"kafka/herald-b100-c1, 1024 B, round 3: boom"}
	add("nats", NameNative, 80000, 80000, 80000)
	add("nats", NameHeraldB100C1, 40000, 40000, 40000)
	add("nats", NameHeraldP1, 8000, 8000, 8000)
	add("nats", NameHeraldKeyedC1, 200, 200, 200)
	add("nats", NameHeraldKeyedC8, 1200, 1200, 1200)
	rep.finish(nil)
	return rep
}

func findRatio(rep *Report, broker, label string) (Ratio, bool) {
	for _, r := range rep.Ratios {
		if r.Broker == broker && r.Label == label {
			return r, true
		}
	}
	return Ratio{}, false
}

func TestReportRatios(t *testing.T) {
	rep := syntheticReport()
	for _, tc := range []struct {
		broker, label string
		want          float64
		met           bool
	}{
		{"kafka", "Herald batch 100 / native", 55000.0 / 100000, false},
		{"kafka", "Herald 16 sync / native 16 sync", 19000.0 / 20000, true},
		{"kafka", "Herald 1 publisher / native", 4200.0 / 100000, true},
		{"kafka", "Herald 16 sync / Watermill 16", 15000.0 / 5000, true},
		{"kafka", "allocs/msg Herald batch 100 / native", 55.0 / 100, true},
		{"nats", "Herald batch 100 / native", 0.5, false},
		{"nats", "Herald keyed, 8 workers / 1 (1 partition, 5 ms handler)", 6, true},
	} {
		r, ok := findRatio(rep, tc.broker, tc.label)
		if !ok {
			t.Errorf("%s %q: missing", tc.broker, tc.label)
			continue
		}
		if math.Abs(r.Value-tc.want) > 1e-9 || r.Met() != tc.met {
			t.Errorf("%s %q = %v (met %v); want %v (met %v)", tc.broker, tc.label, r.Value, r.Met(), tc.want, tc.met)
		}
	}
	for _, missing := range []string{"Herald 16 sync / Watermill 16", "Herald async / native"} {
		if _, ok := findRatio(rep, "nats", missing); ok {
			t.Errorf("nats %q computed without its cases", missing)
		}
	}
	if got := rep.Result("kafka", NameNative, 1024).Summary.E2ERate; got != (Stat{100000, 90000, 120000}) {
		t.Errorf("kafka native e2e = %+v", got)
	}
}

func TestReportText(t *testing.T) {
	var b bytes.Buffer
	if err := syntheticReport().WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"kafka, 1 KiB, n=1000, 3 round(s)", "herald-p16-c8", "100.0k (90.0k..120.0k)", "2.0ms", "64 MiB",
		"Herald batch 100 / native", "0.55x", ">= 0.90x: NOT met", "error: kafka/herald-b100-c1, 1024 B, round 3: boom"} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
}

func TestReportMarkdown(t *testing.T) {
	var b bytes.Buffer
	if err := syntheticReport().WriteMarkdown(&b, "performance-ratios.svg"); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"# Performance\n",
		"Command: `go run ./bench -n 1000`",
		"Date: 2026-11-28 09:00 UTC",
		"Machine: 2 cores (Test CPU), linux/amd64, go1.26.8",
		"Clients: franz-go v1.22.2.",
		"![Herald / native and Herald / Watermill](performance-ratios.svg)",
		"| Herald 16 sync / native 16 sync | kafka | 1 KiB | 0.95x | >= 0.90x: met |",
		"### kafka, 1 KiB, n=1000",
		"| native | 110.0k (99.0k..132.0k) | 100.0k (90.0k..120.0k) | 2.0ms | 5.0ms | 9.0ms | 100.0 | 2.50 | – | 64 MiB |",
		`| native | native \| desc |`,
		"## NATS JetStream (nats)",
		"## Errors",
		"## Targets",
		"| Herald batch 100 / native >= 0.90x | kafka | 1 KiB | 0.55x | **not met**: 0.61x of the target |",
		"| Herald 16 sync / native 16 sync >= 0.90x | kafka | 1 KiB | 0.95x | met |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}
}

func TestReportSVG(t *testing.T) {
	var b bytes.Buffer
	rep := syntheticReport()
	if err := rep.WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	// Well-formed XML, one bar per throughput ratio.
	root, bars := svgShape(t, b.Bytes())
	want := 1 // background
	for _, r := range rep.Ratios {
		if r.Metric == MetricE2E && r.Den != NameHeraldKeyedC1 {
			want++
		}
	}
	if strings.Contains(b.String(), "keyed") {
		t.Error("the SVG charts the keyed speed-up, which compares Herald with itself")
	}
	if root != "svg" || bars != want {
		t.Errorf("root %q, %d rects; want svg, %d", root, bars, want)
	}
	if !strings.Contains(b.String(), "target 0.9x") || !strings.Contains(b.String(), "0.55x") {
		t.Errorf("SVG lacks the target line or a value:\n%s", b.String())
	}
	// No ratios: still a valid chart saying why.
	b.Reset()
	if err := (&Report{}).WriteSVG(&b); err != nil || !strings.Contains(b.String(), "no ratios") {
		t.Errorf("empty SVG = %v\n%s", err, b.String())
	}
}

// svgShape checks that data is well-formed XML and returns its root
// element's name and the number of rect elements.
func svgShape(t *testing.T, data []byte) (root string, rects int) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return root, rects
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, data)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
			}
			if se.Name.Local == "rect" {
				rects++
			}
		}
	}
}

func TestReportRatesSVG(t *testing.T) {
	var b bytes.Buffer
	rep := syntheticReport()
	if err := rep.WriteRatesSVG(&b); err != nil {
		t.Fatal(err)
	}
	root, rects := svgShape(t, b.Bytes())
	if root != "svg" || rects != 1+len(rep.Results) {
		t.Errorf("root %q, %d rects; want svg, %d", root, rects, 1+len(rep.Results))
	}
	for _, want := range []string{"kafka, 1 KiB", "herald-p16-c8", "100.0k msg/s"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("rates SVG lacks %q", want)
		}
	}
}

func TestNiceStep(t *testing.T) {
	for _, tc := range []struct{ max, want float64 }{{1.2, 0.5}, {1, 0.2}, {120000, 50000}, {9, 2}, {0, 1}} {
		if got := niceStep(tc.max); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("niceStep(%v) = %v; want %v", tc.max, got, tc.want)
		}
	}
}

func TestReportJSON(t *testing.T) {
	var b bytes.Buffer
	if err := syntheticReport().WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Results) != 12 || back.Results[0].Summary.E2ERate.Median != 100000 || len(back.Ratios) == 0 || back.Ratios[0].Label == "" {
		t.Errorf("JSON round trip lost data: %d results, %+v", len(back.Results), back.Ratios)
	}
}

func TestLogAxis(t *testing.T) {
	ax := logAxis([]barGroup{{bars: []bar{{value: 0.02}, {value: 0.55}, {value: 3}}}})
	p := ax.pos
	if !(p(0.02) > 0 && p(0.02) < p(0.55) && p(0.55) < p(1) && p(1) < p(3) && p(3) <= 1) {
		t.Errorf("positions 0.02 %v, 0.55 %v, 1 %v, 3 %v: not increasing inside [0, 1]", p(0.02), p(0.55), p(1), p(3))
	}
	if ax.origin != 1 || ax.ticks[0] > 0.02 || ax.ticks[len(ax.ticks)-1] < 3 {
		t.Errorf("origin %v, ticks %v; want bars from 1x and ticks around 0.02..3", ax.origin, ax.ticks)
	}
	lin := linearAxis([]barGroup{{bars: []bar{{value: 120000}}}})
	if lin.origin != 0 || lin.pos(0) != 0 || lin.pos(120000) > 1 || lin.pos(120000) < 0.8 {
		t.Errorf("linear axis: origin %v, pos(120000) %v", lin.origin, lin.pos(120000))
	}
}
