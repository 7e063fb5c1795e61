package sim_test

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/heraldkit/herald/internal/sim"
)

// simplification makes a run simpler: fewer publishers, messages or
// faults. Shrinking a failing seed applies them one by one, keeping each
// that leaves the failure in place.
type simplification struct {
	name  string
	apply func(*scenario, *sim.Plan)
}

var simplifications = []simplification{
	{"one goroutine", func(s *scenario, _ *sim.Plan) { s.goroutines = 1 }},
	{"no publisher replacement", func(s *scenario, _ *sim.Plan) { s.closePubs = 0 }},
	{"one slot", func(s *scenario, _ *sim.Plan) { s.slots = 1 }},
	{"no churn", func(s *scenario, _ *sim.Plan) { s.churn = 0 }},
	{"default recovery", func(s *scenario, _ *sim.Plan) { s.recovery = 0 }},
	{"concurrency 1", func(s *scenario, _ *sim.Plan) { s.concurrency = 1 }},
	{"one key", func(s *scenario, _ *sim.Plan) { s.keys = 1 }},
	{"no middleware", func(s *scenario, _ *sim.Plan) {
		s.middleware, s.pDrop, s.pAdd, s.pRecontext, s.pLate = false, 0, 0, 0, 0
	}},
	{"no drops", func(s *scenario, _ *sim.Plan) { s.pDrop = 0 }},
	{"no adds", func(s *scenario, _ *sim.Plan) { s.pAdd = 0 }},
	{"no new contexts", func(s *scenario, _ *sim.Plan) { s.pRecontext = 0 }},
	{"no late nexts", func(s *scenario, _ *sim.Plan) { s.pLate = 0 }},
	{"handlers never fail", func(s *scenario, _ *sim.Plan) { s.pFail = 0 }},
	{"handlers never panic", func(s *scenario, _ *sim.Plan) { s.pPanic = 0 }},
	{"handlers never slow", func(s *scenario, _ *sim.Plan) { s.pSlow = 0 }},
	{"handlers never stuck", func(s *scenario, _ *sim.Plan) { s.pStuck = 0 }},
	{"handlers never hang", func(s *scenario, _ *sim.Plan) { s.pHang = 0 }},
	{"answers at once", func(_ *scenario, p *sim.Plan) { p.AnswerDelay = 0 }},
	{"no inline answers", func(_ *scenario, p *sim.Plan) { p.InlineAnswers = false }},
	{"no unknown outcomes", func(_ *scenario, p *sim.Plan) { p.PUnknownStored, p.PUnknownLost = 0, 0 }},
	{"no unreachable sends", func(_ *scenario, p *sim.Plan) { p.PUnreachable = 0 }},
	{"no rejected sends", func(_ *scenario, p *sim.Plan) { p.PRejected = 0 }},
	{"no black holes", func(_ *scenario, p *sim.Plan) { p.PBlackhole = 0 }},
	{"no publish outages", func(_ *scenario, p *sim.Plan) { p.OutageEvery = 0 }},
	{"acks at once", func(_ *scenario, p *sim.Plan) { p.PAckDelay = 0 }},
	{"no stream faults", func(_ *scenario, p *sim.Plan) { p.FaultEvery = 0 }},
	{"no breaks", func(_ *scenario, p *sim.Plan) { p.WBreak = 0 }},
	{"no revokes", func(_ *scenario, p *sim.Plan) { p.WRevoke = 0 }},
	{"no redeliveries", func(_ *scenario, p *sim.Plan) { p.WRedeliver = 0 }},
	{"no status outages", func(_ *scenario, p *sim.Plan) { p.WStatusOutage = 0 }},
	{"opens succeed", func(_ *scenario, p *sim.Plan) { p.POpenFail = 0 }},
	{"half the messages", func(s *scenario, _ *sim.Plan) { s.perG = max(1, s.perG/2) }},
}

// simplify applies the simplifications named by pins.
func simplify(s *scenario, p *sim.Plan, pins []string) error {
	for _, name := range pins {
		found := false
		for _, x := range simplifications {
			if x.name == name {
				x.apply(s, p)
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("no simplification %q", name)
		}
	}
	if p.FaultEvery > 0 && p.WBreak+p.WRevoke+p.WRedeliver+p.WStatusOutage == 0 {
		p.FaultEvery = 0
	}
	return nil
}

var idsRE = regexp.MustCompile(`g\d+-\d+\+?|\d+(\.\d+)?(ns|µs|ms|s|m|h)?|#\d+|\(.*?\)`)

// signature is a problem without its IDs, numbers and details: what
// shrinking keeps in place.
func signature(problem string) string {
	if i := strings.Index(problem, ": "); i >= 0 && strings.HasSuffix(problem[:i], "s") {
		problem = problem[i+2:] // the time
	}
	return idsRE.ReplaceAllString(problem, "N")
}

// TestShrink shrinks the seed HERALD_SIM_SHRINK names: it applies every
// simplification that keeps its first problem (by signature), halving
// the messages while it can, and prints the pins for a regression case.
// Each try runs in a child process (a run that leaves goroutines ends
// its process).
func TestShrink(t *testing.T) {
	s := os.Getenv("HERALD_SIM_SHRINK")
	if s == "" {
		t.Skip("set HERALD_SIM_SHRINK=<seed> to shrink a failing seed")
	}
	seed, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	problems := func(pins []string) []string {
		_, ps := runChild(seed, pins)
		return ps
	}
	first := problems(nil)
	if len(first) == 0 {
		t.Fatalf("seed %s does not fail", s)
	}
	want := signature(first[0])
	keeps := func(try []string) bool {
		for _, p := range problems(try) {
			if signature(p) == want {
				return true
			}
		}
		return false
	}
	var pins []string
	for _, x := range simplifications {
		for keeps(append(append([]string(nil), pins...), x.name)) {
			pins = append(pins, x.name)
			if x.name != "half the messages" || len(pins) > 40 {
				break
			}
		}
	}
	t.Logf("seed %s keeps %q with pins %#v", s, want, pins)
	t.Logf("rerun: HERALD_SIM_SEED=%s HERALD_SIM_PINS=%q go test -run 'TestInvariants$' ./internal/sim/", s, strings.Join(pins, ","))
}

var problemRE = regexp.MustCompile(`^\d[\d.hmsµn]*: (.*)$`)

// parseProblems finds the problem lines of a run's report in out.
func parseProblems(out string) []string {
	var ps []string
	in := false
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "scenario: "):
			in = true
		case l == "trace:":
			in = false
		case in:
			if m := problemRE.FindStringSubmatch(l); m != nil {
				ps = append(ps, l)
			} else if strings.Contains(l, "goroutines left after the run") {
				ps = append(ps, "0s: "+l)
			}
		}
	}
	return ps
}
