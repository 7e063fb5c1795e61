package chaos

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/heraldkit/herald/internal/faultkit"
	"github.com/heraldkit/herald/publisher"
)

// Result is one case's outcome.
type Result struct {
	Broker string `json:"broker"`
	Case   string `json:"case"`
	Target string `json:"target"` // private, shared or cluster broker
	Figures
	DurationSec float64 `json:"duration_s"`
	Error       string  `json:"error,omitempty"` // the case could not run or a consumer died
}

// OK reports whether the case ran and lost no acked message.
func (r Result) OK() bool { return r.Error == "" && r.Lost == 0 && r.Acked > 0 }

// Run runs each case on each broker kind (kafka, amqp, nats) and returns
// the results in that order. A case that cannot run has Error set; the
// others still run.
func Run(c Config, kinds, cases []string) []Result {
	c.fill()
	ts, err := newTargets(&c)
	if err != nil {
		return []Result{{Error: err.Error()}}
	}
	defer ts.close()
	var out []Result
	for _, kind := range kinds {
		for _, name := range cases {
			r := runCase(&c, ts, kind, name)
			c.logf("%s %s: %s", kind, name, r.summary())
			out = append(out, r)
		}
	}
	return out
}

func (r Result) summary() string {
	if r.Error != "" && r.Acked == 0 {
		return "not run: " + r.Error
	}
	s := fmt.Sprintf("acked %d, lost %d, duplicates %d, publish errors %d, resume %.1fs, %.0fs",
		r.Acked, r.Lost, r.Duplicates, r.PubErrors, r.ResumeSec, r.DurationSec)
	if r.Error != "" {
		s += ": " + r.Error
	}
	return s
}

func runCase(c *Config, ts *targets, kind, name string) Result {
	start := time.Now()
	r := Result{Broker: kind, Case: name}
	fail := func(err error) Result {
		r.Error = err.Error()
		r.DurationSec = time.Since(start).Seconds()
		return r
	}
	tg, err := ts.get(name, kind)
	if err != nil {
		return fail(err)
	}
	r.Target = tg.desc
	id := fmt.Sprintf("%d", time.Now().UnixNano()%1e9)
	topic, group := "chaos-"+name+"-"+id, "chaos-g-"+id
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pub, err := publisher.Open(ctx, tg.url, publisher.WithPublishTimeout(c.PublishTimeout))
	if err != nil {
		return fail(fmt.Errorf("open the publisher: %w", err))
	}
	defer func() { _ = pub.Close() }()
	t := newTally()
	c.logf("%s %s: %d consumer processes on %s (%s)", kind, name, c.Consumers, redact(tg.url), tg.desc)
	procs, err := startConsumers(c.Exe, c.Args, c.Consumers, tg.url, topic, group, t, 2*time.Minute)
	if err != nil {
		return fail(err)
	}
	defer stopConsumers(procs)
	l := startLoad(pub, topic, c.Rate, c.Keys, t)
	time.Sleep(c.Warmup)
	c.logf("%s %s: fault", kind, name)
	recovered, ferr := fault(name, c, tg, procs, topic, group)
	time.Sleep(c.After)
	l.stop()
	c.logf("%s %s: load stopped; waiting up to %v for %d acked messages not delivered yet", kind, name, c.Drain, t.missing())
	drain(t, c.Drain, procs)
	r.Figures = t.figures(recovered)
	r.DurationSec = time.Since(start).Seconds()
	var errs []string
	if ferr != nil {
		errs = append(errs, ferr.Error())
	}
	for _, p := range procs {
		if err := p.Check(); err != nil {
			errs = append(errs, err.Error())
		}
	}
	r.Error = strings.Join(errs, "; ")
	return r
}

// drain waits until every acked message was delivered (then 2 s more for
// late duplicates), up to timeout, or until no consumer is left.
func drain(t *tally, timeout time.Duration, procs []*faultkit.Child) {
	deadline := time.After(timeout)
	for t.missing() > 0 {
		select {
		case <-t.changed:
		case <-time.After(time.Second):
			if allExited(procs) {
				return
			}
		case <-deadline:
			return
		}
	}
	time.Sleep(2 * time.Second)
}

func allExited(procs []*faultkit.Child) bool {
	for _, p := range procs {
		select {
		case <-p.Exited():
		default:
			return false
		}
	}
	return true
}

// redact hides a URL's password.
func redact(raw string) string {
	at := strings.LastIndex(raw, "@")
	scheme := strings.Index(raw, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return raw
	}
	cred := raw[scheme+3 : at]
	if user, _, ok := strings.Cut(cred, ":"); ok {
		return raw[:scheme+3] + user + ":xxx" + raw[at:]
	}
	return raw
}
