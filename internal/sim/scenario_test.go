package sim_test

import (
	"fmt"
	"time"

	"github.com/heraldkit/herald/internal/sim"
)

// scenario is what a run does besides the broker's faults (sim.Plan):
// how it publishes and consumes, which handler and middleware behaviours
// it draws, and when it closes things. drawScenario makes it from the
// seed; a regression case may pin some fields (shrink).
type scenario struct {
	// publish side
	publishers  int           // Publisher instances open at once (the closer replaces them)
	goroutines  int           // publishing goroutines
	perG        int           // messages each publishes
	keys        int           // keys k0..k<keys-1>; a tenth of the messages have none
	timeout     time.Duration // WithPublishTimeout
	asyncWindow int           // WithAsyncWindow
	middleware  bool          // the publish middleware (drops, adds, re-contexts)
	pDrop       float64       // the middleware drops a message
	pAdd        float64       // it adds a message after one
	pRecontext  float64       // it passes a new context on
	pLate       float64       // it returns at once and calls next later, from another goroutine
	closePubs   time.Duration // mean time between publisher replacements (0: none)

	// consume side
	slots       int           // subscribers at once
	concurrency int           // WithConcurrency
	window      int           // WithWindow (0: the backend's default)
	drain       time.Duration // WithDrainTimeout
	churn       time.Duration // mean lifetime of a subscriber (0: until the end)
	recovery    time.Duration // WithRecoveryTimeout (0: the default)

	// handler behaviours, per invocation (the 6th and later always succeed)
	pFail, pPanic, pSlow, pStuck, pHang float64
}

// drawScenario makes the scenario of seed.
func drawScenario(seed uint64) scenario {
	r := sim.Rand(seed, "scenario")
	pick := func(vs ...float64) float64 { return vs[r.IntN(len(vs))] }
	s := scenario{
		publishers:  1 + r.IntN(2),
		goroutines:  1 + r.IntN(3),
		perG:        5 + r.IntN(40),
		keys:        1 + r.IntN(4),
		timeout:     time.Duration(50+r.IntN(3000)) * time.Millisecond,
		asyncWindow: []int{1, 2, 8, 64}[r.IntN(4)],
		middleware:  r.IntN(2) == 0,
		slots:       1 + r.IntN(2),
		concurrency: []int{1, 1, 2, 4}[r.IntN(4)],
		window:      []int{0, 1, 2, 3, 8}[r.IntN(5)],
		drain:       time.Duration(50+r.IntN(3000)) * time.Millisecond,
	}
	if s.middleware {
		s.pDrop, s.pAdd, s.pRecontext = pick(0, 0.05, 0.2), pick(0, 0.05, 0.2), pick(0, 0.1, 0.5)
	}
	if r.IntN(3) == 0 {
		s.closePubs = time.Duration(100+r.IntN(3000)) * time.Millisecond
	}
	if r.IntN(3) != 0 {
		s.churn = time.Duration(200+r.IntN(5000)) * time.Millisecond
	}
	s.pFail, s.pPanic, s.pSlow = pick(0, 0.1, 0.3), pick(0, 0.02, 0.1), pick(0, 0.1, 0.3)
	s.pStuck, s.pHang = pick(0, 0.01, 0.05), pick(0, 0, 0.005, 0.02)
	if s.middleware {
		s.pLate = pick(0, 0, 0.02, 0.1)
	}
	// Keyed apart, so that adding them left the draws above as they were.
	if r := sim.Rand(seed, "recovery"); r.IntN(3) == 0 {
		s.recovery = time.Duration(100+r.IntN(3000)) * time.Millisecond
	}
	return s
}

// String sums the scenario up on one line.
func (s scenario) String() string {
	return fmt.Sprintf("publish{publishers=%d goroutines=%d x %d keys=%d timeout=%v window=%d mw=%v drop/add/recontext/late=%.2f/%.2f/%.2f/%.2f replace=%v} "+
		"consume{slots=%d concurrency=%d window=%d drain=%v churn=%v recovery=%v} handler{fail=%.2f panic=%.2f slow=%.2f stuck=%.3f hang=%.3f}",
		s.publishers, s.goroutines, s.perG, s.keys, s.timeout, s.asyncWindow, s.middleware, s.pDrop, s.pAdd, s.pRecontext, s.pLate, s.closePubs,
		s.slots, s.concurrency, s.window, s.drain, s.churn, s.recovery, s.pFail, s.pPanic, s.pSlow, s.pStuck, s.pHang)
}
