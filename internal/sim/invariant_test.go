package sim_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/internal/sim"
)

// The randomized invariant test of the publish and consume pipeline
// (issue 14 item 5): each seed draws a simulated broker (capabilities and
// faults, sim.Draw) and a scenario (drawScenario), runs the real
// publisher and subscriber on it inside a synctest bubble, and checks:
//
//   - every message whose Publish returned nil or whose done got nil is
//     stored, and every stored message is handled successfully and acked
//     in the end (after a calm phase with a well-behaved subscriber);
//   - nothing is acked at the driver before a handler of that delivery
//     returned nil; no handler starts after its delivery turned invalid
//     (revoked, redelivered, its stream broke or closed);
//   - same-key order as the capabilities declare: with OrderKey a delivery
//     starts only once the earlier ones of its key on its stream are
//     settled (RedeliverLocal: a failed message is handled again before
//     later messages of its key), and never two handlers of a key at once
//     in one Subscribe call; one goroutine's messages of one key are
//     stored in its publish order;
//   - every PublishAsync done is called exactly once, and before a Flush
//     that began after its PublishAsync returned; Publish and PublishAsync
//     return within their deadline or the publish timeout;
//   - Close and Shutdown of publishers and subscribers, and a stopped
//     Subscribe, return within their documented bounds; no more handlers
//     run at once than WithConcurrency;
//   - the driver contract is kept (sim records its forbidden uses);
//   - no goroutine is left, the facade's or the driver's.
//
// Fake time makes every delay and timeout free. HERALD_SIM_SEEDS sets
// how many seeds run (default defaultSeeds, or raceSeeds under -race as
// make test runs it; a tenth of that with -short), HERALD_SIM_TIME (a
// duration) stops starting seeds once it has passed,
// HERALD_SIM_SEED_BASE the first, HERALD_SIM_SEED=N runs seed N alone
// (with the simplifications HERALD_SIM_PINS lists, comma-separated) and
// writes its whole trace to a file; HERALD_SIM_SHRINK=N shrinks seed N
// (TestShrink).

// defaultSeeds and raceSeeds are how many seeds go test runs without
// HERALD_SIM_SEEDS: about 3 ms of CPU a seed, 15 ms under -race, so
// each takes some 15 s on two idle cores (make soak runs many more).
const (
	defaultSeeds = 5000
	raceSeeds    = 2000
)

var drv = sim.NewDriver()

func init() { adapters.Register(sim.Scheme, drv) }

// regression is a seed that failed once, kept with what was found.
type regression struct {
	name  string
	seed  uint64
	pins  []string // the simplifications that shrank it (shrink.go)
	wants string   // the problem it shows, as shrinking matched it
}

// regressions are the failing seeds found so far, each shrunk and named
// by the defect it shows; each fails until its defect is fixed.
var regressions = []regression{
	{
		// Publish keeps a publish middleware's context for the driver:
		// a middleware that passes on context.WithoutCancel(ctx) or
		// context.Background() drops the deadline, and a message the
		// broker never answers holds Publish until the publisher closes
		// (publisher/publish.go, sendWait).
		name: "PublishDeadlineLostToMiddlewareContext", seed: 35,
		pins: []string{"one slot", "no churn", "concurrency 1", "one key", "no drops", "no adds", "no late nexts",
			"handlers never fail", "handlers never panic", "handlers never slow", "handlers never stuck", "handlers never hang",
			"no inline answers", "no unknown outcomes", "no unreachable sends", "no publish outages", "acks at once",
			"no stream faults", "no breaks", "no revokes", "no redeliveries", "no status outages", "opens succeed",
			"half the messages", "half the messages", "half the messages"},
		wants: "batch of N took N, over its bound N",
	},
	{
		// A publish middleware that returns and calls next later (from
		// another goroutine): PublishAsync takes the return for a drop
		// and calls done(nil), then calls done again when the late send
		// is answered, and frees the window slot twice: Flush returns
		// early and the driver's done callback blocks for ever in
		// window.release (publisher/async.go, asyncCall.send and seal).
		name: "AsyncDoneTwiceWhenMiddlewareSendsLate", seed: 5,
		pins: []string{"one goroutine", "no publisher replacement", "one slot", "no churn", "concurrency 1", "one key",
			"no drops", "no adds", "no new contexts", "handlers never fail", "handlers never panic", "handlers never slow",
			"handlers never stuck", "handlers never hang", "answers at once", "no inline answers", "no unknown outcomes",
			"no unreachable sends", "no rejected sends", "no black holes", "no publish outages", "acks at once",
			"no stream faults", "no breaks", "no revokes", "no redeliveries", "no status outages", "opens succeed"},
		wants: "PublishAsync of N returned nil and its done was called N times",
	},
}

func TestInvariants(t *testing.T) {
	if s := os.Getenv("HERALD_SIM_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("HERALD_SIM_SEED=%q: %v", s, err)
		}
		var pins []string
		if p := os.Getenv("HERALD_SIM_PINS"); p != "" {
			pins = strings.Split(p, ",")
		}
		runSeed(t, seed, pins, true)
		return
	}
	def := defaultSeeds
	if raceEnabled {
		def = raceSeeds
	}
	n := envInt(t, "HERALD_SIM_SEEDS", def)
	if testing.Short() && os.Getenv("HERALD_SIM_SEEDS") == "" {
		n /= 10
	}
	base := uint64(envInt(t, "HERALD_SIM_SEED_BASE", 1))
	var budget time.Duration // 0: no time limit
	if s := os.Getenv("HERALD_SIM_TIME"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			t.Fatalf("HERALD_SIM_TIME=%q: not a duration", s)
		}
		budget = d
	}
	workers := runtime.GOMAXPROCS(0)
	var next, ran, failed atomic.Int64
	start := time.Now()
	t.Run("seeds", func(t *testing.T) {
		for w := range workers {
			t.Run(fmt.Sprint("worker", w), func(t *testing.T) {
				t.Parallel()
				for {
					i := next.Add(1) - 1
					if i >= int64(n) || failed.Load() >= 5 || budget > 0 && time.Since(start) > budget {
						return
					}
					if !runSeed(t, base+uint64(i), nil, false) {
						failed.Add(1)
					}
					ran.Add(1)
				}
			})
		}
	})
	t.Logf("%d seeds from %d in %v", ran.Load(), base, time.Since(start).Round(time.Millisecond))
	if stats != nil {
		t.Logf("events over all seeds:\n%s", stats)
	}
}

// stats counts the events of every run when HERALD_SIM_STATS is set: what
// the seeds exercise.
var stats = func() *eventStats {
	if os.Getenv("HERALD_SIM_STATS") == "" {
		return nil
	}
	return &eventStats{n: map[string]int{}}
}()

type eventStats struct {
	mu sync.Mutex
	n  map[string]int
}

func (s *eventStats) add(tr *sim.Trace) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	for _, e := range tr.Events() {
		k := string(e.What)
		if e.Err != nil {
			k += " (error)"
		}
		if e.What == evHandle && !strings.Contains(e.Note, " n=1 ") {
			k = "handle again"
		}
		s.n[k]++
		if !seen[k] {
			seen[k] = true
			s.n["runs with "+k]++
		}
	}
}

func (s *eventStats) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.n))
	for k := range s.n {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%8d %s\n", s.n[k], k)
	}
	return b.String()
}

// TestInvariantRegressions runs each regression in a child process (a
// run that leaves goroutines ends its process) and fails with its report.
func TestInvariantRegressions(t *testing.T) {
	if os.Getenv("HERALD_SIM_SEED") != "" {
		t.Skip("running one seed")
	}
	for _, c := range regressions {
		t.Run(c.name, func(t *testing.T) {
			out, problems := runChild(c.seed, c.pins)
			if len(problems) > 0 {
				t.Errorf("seed %d (%s) fails:\n%s", c.seed, c.wants, out)
			}
		})
	}
}

// runChild runs seed with pins in a child process and returns its output
// and problems.
func runChild(seed uint64, pins []string) (string, []string) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestInvariants$", "-test.count=1")
	cmd.Env = append(os.Environ(), "HERALD_SIM_SHRINK=", fmt.Sprintf("HERALD_SIM_SEED=%d", seed), "HERALD_SIM_PINS="+strings.Join(pins, ","))
	out, err := cmd.CombinedOutput()
	problems := parseProblems(string(out))
	if err != nil && len(problems) == 0 {
		problems = []string{"0s: the child failed: " + err.Error()}
	}
	return string(out), problems
}

// runSeed runs one seed in a bubble and reports its problems; it
// returns whether the run was clean. (The report is made outside the
// bubble: synctest.Test ends the calling test when the bubble's fails.)
func runSeed(t *testing.T, seed uint64, pins []string, verbose bool) bool {
	report, _ := runPinned(t, seed, pins, verbose)
	if report != "" {
		t.Error(report)
	}
	return report == ""
}

// runPinned runs seed with the simplifications pins in a bubble and
// returns its report ("" when clean) and its problems.
func runPinned(t *testing.T, seed uint64, pins []string, verbose bool) (report string, problems []string) {
	synctest.Test(t, func(t *testing.T) {
		plan := sim.Draw(seed)
		sc := drawScenario(seed)
		if err := simplify(&sc, &plan, pins); err != nil {
			t.Fatal(err)
		}
		r := newRunner(seed, sc, plan)
		defer drv.Remove(r.b)
		r.run()
		synctest.Wait()
		r.b.Close()
		problems = r.check()
		if stats != nil {
			stats.add(r.b.Trace())
		}
		left := leaks()
		if len(left) > 0 {
			problems = append(problems, fmt.Sprintf("%d goroutines left after the run:\n%s", len(left), strings.Join(left, "\n\n")))
		}
		if verbose {
			path := filepath.Join(os.TempDir(), fmt.Sprintf("herald-sim-%d.trace", seed))
			if err := os.WriteFile(path, []byte(r.b.Trace().Format(nil, 0)), 0o644); err == nil {
				t.Logf("seed %d: whole trace in %s", seed, path)
			}
		}
		if len(problems) == 0 {
			return
		}
		rerun := fmt.Sprintf("HERALD_SIM_SEED=%d go test -run 'TestInvariants$' ./internal/sim/", seed)
		if len(pins) > 0 {
			rerun = fmt.Sprintf("HERALD_SIM_SEED=%d HERALD_SIM_PINS=%q go test -run 'TestInvariants$' ./internal/sim/", seed, strings.Join(pins, ","))
		}
		report = fmt.Sprintf("seed %d: %d problems (rerun: %s)\nplan: %v\nscenario: %v\n%s\ntrace:\n%s",
			seed, len(problems), rerun, plan, sc, strings.Join(first(problems, 10), "\n"), excerpt(r.b.Trace(), problems[0]))
		if len(left) > 0 {
			// The bubble cannot end with goroutines in it: say why first.
			fmt.Fprintln(os.Stderr, report)
			panic(fmt.Sprintf("seed %d left goroutines (listed above); synctest cannot end the bubble", seed))
		}
	})
	return report, problems
}

func first(s []string, n int) []string { return s[:min(n, len(s))] }

var idRE = strings.NewReplacer("(", " ", ")", " ", ",", " ", ":", " ")

// excerpt is the part of the trace about the messages a problem names,
// and the last events before it.
func excerpt(tr *sim.Trace, problem string) string {
	names := map[string]bool{}
	for _, w := range strings.Fields(idRE.Replace(problem)) {
		if strings.HasPrefix(w, "g") && strings.Contains(w, "-") {
			names[strings.TrimRight(w, ".")] = true
		}
	}
	about := tr.Format(func(e sim.Event) bool { return names[e.Msg] || e.What == evBroken || e.What == sim.Violation }, 80)
	return about + "...\nlast events:\n" + tr.Format(nil, 40)
}

func envInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: not a count", name, s)
	}
	return n
}
