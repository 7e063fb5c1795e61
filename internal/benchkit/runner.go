package benchkit

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"
)

// Case is one measured path: publish r.N messages of r.Size bytes and
// consume them. Run sets everything up (connections, a fresh topic, the
// subscription), publishes with payloads from r.Payload calling r.Start
// first and r.Published after (Run.Publish does both), waits with r.Wait,
// then tears down (closing clients, deleting the topic where it can).
type Case struct {
	// Broker groups cases whose ratios are compared ("kafka", "amqp",
	// "nats", "mem", ...).
	Broker string
	// Name is unique within Broker; the ratios refer to cases by name
	// (see the Name* constants).
	Name string
	// Desc says in a few words what the case runs, for the reports.
	Desc string
	// N, when set, says how many messages this case sends at a size,
	// instead of Runner.N; 0 leaves the case out at that size.
	N   func(size int) int
	Run func(ctx context.Context, r *Run) error
}

// Progress is what a Runner reports while it runs.
type Progress struct {
	Round, Rounds int
	Case          Case
	Size          int
	Got, N        int64
	// Finished is true once the case's run ended; Err is its error and
	// Sample its figures.
	Finished bool
	Err      error
	Sample   Sample
}

// Runner runs cases in interleaved rounds.
type Runner struct {
	// Rounds is how many times each case runs (default 1).
	Rounds int
	// Sizes are the payload sizes in bytes (default 1024).
	Sizes []int
	// N returns how many messages to send at a size (default 10000).
	N func(size int) int
	// Timeout bounds one run of one case (default 10 minutes).
	Timeout time.Duration
	// Progress, when set, is called when a case starts and ends and about
	// every ProgressEvery while it runs.
	Progress      func(Progress)
	ProgressEvery time.Duration
	// Ratios to compute (default DefaultRatios).
	Ratios []RatioSpec
	// BrokerPIDs maps a broker name (Case.Broker) to the pid of its
	// process, whose CPU time is measured over each case from
	// /proc/PID/stat; a broker not in it is not measured.
	BrokerPIDs map[string]int
}

// Run runs every case Rounds times at every size, in the order
// size, round, case (A B C A B C ...), and returns the report. A case that
// fails is recorded in its Result and the others go on; the error returned
// joins every failure, and ctx's error if it ended the run early.
func (rn *Runner) Run(ctx context.Context, cases []Case) (*Report, error) {
	rounds := max(rn.Rounds, 1)
	sizes := rn.Sizes
	if len(sizes) == 0 {
		sizes = []int{1024}
	}
	nFor := rn.N
	if nFor == nil {
		nFor = func(int) int { return 10000 }
	}
	timeout := rn.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	rep := &Report{Date: time.Now().UTC(), Rounds: rounds, Sizes: sizes, Machine: CurrentMachine()}
	results := map[[2]string]map[int]*Result{}
	for _, c := range cases {
		if c.Run == nil || c.Name == "" {
			return nil, fmt.Errorf("benchkit: case %q of broker %q has no name or no Run", c.Name, c.Broker)
		}
		key := [2]string{c.Broker, c.Name}
		if results[key] != nil {
			return nil, fmt.Errorf("benchkit: case %q of broker %q given twice", c.Name, c.Broker)
		}
		results[key] = map[int]*Result{}
		for _, size := range sizes {
			n := nFor(size)
			if c.N != nil {
				n = c.N(size)
			}
			if n <= 0 {
				continue
			}
			res := &Result{Broker: c.Broker, Case: c.Name, Desc: c.Desc, Size: size, N: n}
			results[key][size] = res
			rep.Results = append(rep.Results, res)
		}
	}
	var errs []error
	for _, size := range sizes {
		for round := 1; round <= rounds; round++ {
			for _, c := range cases {
				if ctx.Err() != nil {
					errs = append(errs, ctx.Err())
					rep.finish(rn.Ratios)
					return rep, errors.Join(errs...)
				}
				res := results[[2]string{c.Broker, c.Name}][size]
				if res == nil {
					continue // not at this size
				}
				s, err := rn.runOne(ctx, c, size, res.N, round, rounds, timeout)
				if err != nil {
					err = fmt.Errorf("%s/%s, %d B, round %d: %w", c.Broker, c.Name, size, round, err)
					res.Errors = append(res.Errors, err.Error())
					errs = append(errs, err)
					continue
				}
				res.Samples = append(res.Samples, s)
			}
		}
	}
	rep.finish(rn.Ratios)
	return rep, errors.Join(errs...)
}

// runOne runs one case once.
func (rn *Runner) runOne(ctx context.Context, c Case, size, n, round, rounds int, timeout time.Duration) (Sample, error) {
	debug.FreeOSMemory() // start every case from a collected heap
	r := NewRun(n, size)
	r.cpu.broker = rn.BrokerPIDs[c.Broker]
	report := func(p Progress) {
		if rn.Progress != nil {
			p.Round, p.Rounds, p.Case, p.Size, p.N = round, rounds, c, size, int64(n)
			p.Got = r.Got()
			rn.Progress(p)
		}
	}
	report(Progress{})
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stopTicker := make(chan struct{})
	var ticking sync.WaitGroup
	if rn.Progress != nil {
		every := rn.ProgressEvery
		if every <= 0 {
			every = 250 * time.Millisecond
		}
		ticking.Add(1)
		go func() {
			defer ticking.Done()
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-stopTicker:
					return
				case <-t.C:
					report(Progress{})
				}
			}
		}()
	}
	err := c.Run(ctx, r)
	close(stopTicker)
	ticking.Wait()
	r.stopMeasuring() // in case the Run did not Wait
	if err == nil {
		select {
		case <-r.Done():
		default:
			err = fmt.Errorf("case returned after %d of %d messages", r.Got(), n)
		}
	}
	var s Sample
	if err == nil {
		s = r.sample()
	}
	report(Progress{Finished: true, Err: err, Sample: s})
	return s, err
}
