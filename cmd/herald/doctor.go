package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Step statuses in doctor's report.
const (
	statusOK   = "ok"
	statusFail = "fail"
	statusSkip = "skip"
)

// doctorStep is one check of doctor's report. Its JSON field names are
// stable (see README.md, "herald doctor -json").
type doctorStep struct {
	Name   string `json:"name"`             // config, dns, tcp, tls, auth, consume, publish, roundtrip
	Status string `json:"status"`           // ok, fail or skip
	Detail string `json:"detail,omitempty"` // what was found (secrets removed)
	Fix    string `json:"fix,omitempty"`    // for a failed step: what to do
	Millis int64  `json:"ms"`               // how long the step took
}

// doctorReport is doctor's whole answer. Its JSON field names are stable.
type doctorReport struct {
	Target  string       `json:"target"`            // the configuration, secrets redacted
	Source  string       `json:"source"`            // where it came from: -url, -config, HERALD_URL, ...
	OK      bool         `json:"ok"`                // every step passed or was not needed
	Problem string       `json:"problem,omitempty"` // for a failure: a stable code, see problems
	Verdict string       `json:"verdict"`           // one sentence
	Steps   []doctorStep `json:"steps"`
}

// doctorCmd checks a configuration step by step and prints a report.
func doctorCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs, url := newFlags("doctor")
	file := fs.String("config", "", "read the configuration from this YAML or JSON file (as HERALD_CONFIG)")
	jsonOut := fs.Bool("json", false, "print the report as one JSON object")
	timeout := fs.Duration("timeout", 10*time.Second, "time limit of each network step")
	topic := fs.String("topic", probeTopic, "topic of the probe message")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usagef("doctor: unexpected arguments %q", fs.Args())
	case *url != "" && *file != "":
		return usagef("doctor: give -url or -config, not both")
	case *timeout <= 0:
		return usagef("doctor: -timeout must be positive, got %v", *timeout)
	case *topic == "":
		return usagef("doctor: -topic must not be empty")
	}
	d := &doctor{timeout: *timeout, topic: *topic}
	rep := d.run(ctx, *url, *file)
	var err error
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		err = writeDoctorText(stdout, rep)
	}
	if err != nil {
		return err
	}
	if !rep.OK {
		return fmt.Errorf("doctor: %s", rep.Verdict)
	}
	return nil
}

// writeDoctorText prints the report for people.
func writeDoctorText(w io.Writer, rep doctorReport) error {
	var b strings.Builder
	fmt.Fprintf(&b, "herald doctor: %s (from %s)\n", rep.Target, rep.Source)
	for _, s := range rep.Steps {
		status := s.Status
		if status == statusFail {
			status = "FAIL"
		}
		fmt.Fprintf(&b, "  %-4s  %-9s  %s\n", status, s.Name, s.Detail)
		if s.Fix != "" {
			fmt.Fprintf(&b, "        %-9s  fix: %s\n", "", s.Fix)
		}
	}
	if rep.OK {
		fmt.Fprintf(&b, "verdict: ok: %s\n", rep.Verdict)
	} else {
		fmt.Fprintf(&b, "verdict: FAIL (%s): %s\n", rep.Problem, rep.Verdict)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
