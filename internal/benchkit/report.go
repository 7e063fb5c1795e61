package benchkit

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

// Names of the cases the default ratios compare. The bench module and
// HeraldCases use them.
const (
	NameNative        = "native"         // the native client's fastest at-least-once path
	NameNativeHeaders = "native-headers" // the same, with the headers Herald sends (NATS)
	// NameNativeDefaults is the native client at its own defaults
	// (windows, linger), the ceiling beside the equal-window native case.
	NameNativeDefaults = "native-defaults"
	NameNativeSync16   = "native-sync16" // the native client, 16 goroutines publishing synchronously
	// NameNativeSync16Headers is NameNativeSync16 with Herald's headers (NATS).
	NameNativeSync16Headers = "native-sync16-headers"
	NameWatermill           = "watermill-p16"   // Watermill's stock adapter, 16 publishing goroutines
	NameHeraldP1            = "herald-p1-c1"    // Herald, 1 synchronous publisher, concurrency 1
	NameHeraldP16C1         = "herald-p16-c1"   // Herald, 16 synchronous publishers, concurrency 1
	NameHeraldP16C8         = "herald-p16-c8"   // Herald, 16 synchronous publishers, concurrency 8
	NameHeraldB100C1        = "herald-b100-c1"  // Herald, Publish of 100 messages per call, concurrency 1
	NameHeraldB100C8        = "herald-b100-c8"  // Herald, Publish of 100 messages per call, concurrency 8
	NameHeraldAsync         = "herald-async-c1" // Herald's asynchronous publish (see AsyncPublish), concurrency 1
	// NameHeraldB100C1x10 is NameHeraldB100C1 with ten times the messages,
	// for the peak RSS growth.
	NameHeraldB100C1x10 = "herald-b100-c1-x10"
	// NameHeraldKeyedC1 and NameHeraldKeyedC8 consume keyed messages on one
	// Kafka partition with a 5 ms handler, 1 and 8 workers.
	NameHeraldKeyedC1 = "herald-keyed-c1"
	NameHeraldKeyedC8 = "herald-keyed-c8"
)

// Metric names a figure a ratio compares.
type Metric string

// The metrics a RatioSpec can compare (medians over rounds).
const (
	MetricE2E     Metric = "e2e"     // end-to-end msg/s
	MetricPublish Metric = "publish" // publish msg/s
	MetricAllocs  Metric = "allocs"  // allocations per message
	MetricRSS     Metric = "rss"     // peak RSS
	MetricCPU     Metric = "cpu"     // the process's CPU time per message
)

// RatioSpec is one ratio to compute per broker and size: Num's median over
// Den's median.
type RatioSpec struct {
	Label  string `json:"label"` // e.g. "Herald batch 100 / native"
	Num    string `json:"num"`   // case names
	Den    string `json:"den"`
	Metric Metric `json:"metric"`
	// Target, when not 0, is the goal: Value >= Target, or Value <= Target
	// with AtMost.
	Target float64 `json:"target,omitempty"`
	AtMost bool    `json:"at_most,omitempty"`
}

// DefaultRatios are the ratios issue 8's targets and its table name.
var DefaultRatios = []RatioSpec{
	{Label: "Herald async / native", Num: NameHeraldAsync, Den: NameNative, Metric: MetricE2E, Target: 0.9},
	{Label: "Herald batch 100 / native", Num: NameHeraldB100C1, Den: NameNative, Metric: MetricE2E, Target: 0.9},
	{Label: "Herald 16 sync / native 16 sync", Num: NameHeraldP16C8, Den: NameNativeSync16, Metric: MetricE2E, Target: 0.9},
	{Label: "Herald async / native at its own defaults (ceiling)", Num: NameHeraldAsync, Den: NameNativeDefaults, Metric: MetricE2E},
	{Label: "CPU/msg Herald async / native", Num: NameHeraldAsync, Den: NameNative, Metric: MetricCPU},
	{Label: "Herald async / native with Herald's headers", Num: NameHeraldAsync, Den: NameNativeHeaders, Metric: MetricE2E},
	{Label: "Herald 16 sync / native 16 sync with Herald's headers", Num: NameHeraldP16C8, Den: NameNativeSync16Headers, Metric: MetricE2E},
	{Label: "Herald 1 publisher / native", Num: NameHeraldP1, Den: NameNative, Metric: MetricE2E},
	{Label: "Herald 16 sync / Watermill 16", Num: NameHeraldP16C1, Den: NameWatermill, Metric: MetricE2E, Target: 1},
	{Label: "allocs/msg Herald batch 100 / native", Num: NameHeraldB100C1, Den: NameNative, Metric: MetricAllocs, Target: 2, AtMost: true},
	{Label: "peak RSS Herald batch 100, 10x n / n", Num: NameHeraldB100C1x10, Den: NameHeraldB100C1, Metric: MetricRSS, Target: 1.2, AtMost: true},
	{Label: "Herald keyed, 8 workers / 1 (1 partition, 5 ms handler)", Num: NameHeraldKeyedC8, Den: NameHeraldKeyedC1, Metric: MetricE2E, Target: 6},
}

// Report is the outcome of one Runner.Run.
type Report struct {
	Command string    `json:"command,omitempty"` // how it was run, for the reports
	Date    time.Time `json:"date"`
	Machine Machine   `json:"machine"`
	Rounds  int       `json:"rounds"`
	Sizes   []int     `json:"sizes"`
	Results []*Result `json:"results"`
	Ratios  []Ratio   `json:"ratios"`
	// Notes are paragraphs the markdown report prints after the method
	// (versions, configurations).
	Notes []string `json:"notes,omitempty"`
}

// Result is one case at one size.
type Result struct {
	Broker  string   `json:"broker"`
	Case    string   `json:"case"`
	Desc    string   `json:"desc,omitempty"`
	Size    int      `json:"size"`
	N       int      `json:"n"`
	Samples []Sample `json:"samples"`
	Summary Summary  `json:"summary"`
	Errors  []string `json:"errors,omitempty"`
}

// Ratio is a computed RatioSpec for one broker and size.
type Ratio struct {
	RatioSpec
	Broker string  `json:"broker"`
	Size   int     `json:"size"`
	Value  float64 `json:"value"`
}

// Met says whether the ratio reaches its target (true without a target).
func (r Ratio) Met() bool {
	switch {
	case r.Target == 0:
		return true
	case r.AtMost:
		return r.Value <= r.Target
	default:
		return r.Value >= r.Target
	}
}

// Machine describes where the run happened.
type Machine struct {
	Cores     int    `json:"cores"`
	CPU       string `json:"cpu,omitempty"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	GoVersion string `json:"go_version"`
}

// CurrentMachine describes this machine.
func CurrentMachine() Machine {
	return Machine{Cores: runtime.NumCPU(), CPU: cpuModel(), OS: runtime.GOOS, Arch: runtime.GOARCH, GoVersion: runtime.Version()}
}

// cpuModel reads the CPU model name from /proc/cpuinfo ("" elsewhere).
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// Result returns the result of a case at a size, or nil.
func (rep *Report) Result(broker, name string, size int) *Result {
	for _, r := range rep.Results {
		if r.Broker == broker && r.Case == name && r.Size == size {
			return r
		}
	}
	return nil
}

// Brokers lists the brokers of the results in order of appearance.
func (rep *Report) Brokers() []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range rep.Results {
		if !seen[r.Broker] {
			seen[r.Broker] = true
			out = append(out, r.Broker)
		}
	}
	return out
}

// finish summarises the samples and computes the ratios.
func (rep *Report) finish(specs []RatioSpec) {
	for _, r := range rep.Results {
		r.Summary = summarizeSamples(r.Samples)
	}
	rep.ComputeRatios(specs)
}

// ComputeRatios (re)computes rep.Ratios from the results' summaries; nil
// specs mean DefaultRatios. A ratio whose cases are missing or have no
// samples is left out.
func (rep *Report) ComputeRatios(specs []RatioSpec) {
	if specs == nil {
		specs = DefaultRatios
	}
	rep.Ratios = nil
	for _, b := range rep.Brokers() {
		for _, size := range rep.Sizes {
			for _, sp := range specs {
				num, den := rep.Result(b, sp.Num, size), rep.Result(b, sp.Den, size)
				if num == nil || den == nil || len(num.Samples) == 0 || len(den.Samples) == 0 {
					continue
				}
				d := metric(den.Summary, sp.Metric)
				if d == 0 {
					continue
				}
				rep.Ratios = append(rep.Ratios, Ratio{RatioSpec: sp, Broker: b, Size: size, Value: metric(num.Summary, sp.Metric) / d})
			}
		}
	}
}

// metric picks a median from a summary.
func metric(s Summary, m Metric) float64 {
	switch m {
	case MetricPublish:
		return s.PublishRate.Median
	case MetricAllocs:
		return s.AllocsPerMsg.Median
	case MetricRSS:
		return s.PeakRSS.Median
	case MetricCPU:
		return s.CPUPerMsg.Median
	default:
		return s.E2ERate.Median
	}
}

// WriteJSON writes the report as indented JSON.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
