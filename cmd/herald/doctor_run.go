package main

import (
	"context"
	"fmt"
	"time"

	"github.com/heraldkit/herald"
)

// probeTopic is the topic of doctor's probe message. It is one fixed
// topic, so runs do not pile up topics, streams or exchanges; the probe
// consumes without a group, so it leaves no group behind.
const probeTopic = "herald.doctor.probe"

// doctor runs the checks of one configuration.
type doctor struct {
	timeout time.Duration
	topic   string

	cfg     herald.Config
	secrets secrets // values that must not appear in the report
	rep     doctorReport
	failed  bool
	addrs   []string // host:port of each broker
}

// network reports whether the backend is reached over the network.
func network(scheme string) bool {
	switch scheme {
	case "kafka", "amqp", "amqps", "nats":
		return true
	}
	return false
}

// run checks everything and returns the report.
func (d *doctor) run(ctx context.Context, url, file string) doctorReport {
	d.step("config", func() (string, error) { return d.config(url, file) })
	remote := network(d.cfg.Scheme)
	for _, s := range []struct {
		name string
		fn   func(context.Context) (string, error)
	}{
		{"dns", d.dns}, {"tcp", d.tcp}, {"tls", d.tls},
	} {
		if !remote && !d.failed {
			d.skip(s.name, d.cfg.Scheme+":// runs in this process: no network")
			continue
		}
		d.step(s.name, func() (string, error) { return d.withTimeout(ctx, s.fn) })
	}
	d.probe(ctx)
	if !d.failed {
		d.rep.OK = true
		d.rep.Verdict = fmt.Sprintf("%s works: a probe message went through topic %q and back", d.rep.Target, d.topic)
		if d.cfg.Scheme == "mem" {
			d.rep.Verdict += "; mem:// lives inside one process, so other processes cannot share it"
		}
	}
	return d.rep
}

// withTimeout runs fn with the step time limit.
func (d *doctor) withTimeout(ctx context.Context, fn func(context.Context) (string, error)) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	return fn(ctx)
}

// step runs fn as the named step, unless an earlier one failed, and
// records its result. A failure is classified to give the verdict and
// the fix.
func (d *doctor) step(name string, fn func() (string, error)) bool {
	if d.failed {
		d.skip(name, "not run: an earlier step failed")
		return false
	}
	start := time.Now()
	detail, err := fn()
	s := doctorStep{Name: name, Status: statusOK, Detail: detail, Millis: time.Since(start).Milliseconds()}
	if err != nil {
		p := classify(name, err, d.cfg)
		s.Status, s.Detail, s.Fix = statusFail, err.Error(), p.fix
		d.failed = true
		d.rep.Problem = p.code
		d.rep.Verdict = p.verdict
	}
	if s.Status == statusOK && detail == "" {
		s.Detail = "ok"
	}
	s.Detail, s.Fix = d.scrub(s.Detail), d.scrub(s.Fix)
	d.rep.Verdict = d.scrub(d.rep.Verdict)
	d.rep.Steps = append(d.rep.Steps, s)
	return err == nil
}

// skip records a step that was not needed or could not run.
func (d *doctor) skip(name, why string) {
	d.rep.Steps = append(d.rep.Steps, doctorStep{Name: name, Status: statusSkip, Detail: why})
}

// scrub removes every secret of the configuration from s: errors of
// clients and brokers are not trusted to have left them out.
func (d *doctor) scrub(s string) string { return d.secrets.scrub(s) }
