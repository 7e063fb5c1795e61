package faultkit

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Result is a case's outcome as a command prints it.
type Result interface {
	// OK reports whether the case ran and kept the suite's guarantees.
	OK() bool
}

// Output is what a suite's command prints: flags -json (JSON instead of
// the markdown table) and -table (the table of earlier -json runs), and
// the exit status (1 when a case is not OK or printing failed).
type Output[R Result] struct {
	name     string // the command: the prefix of its error lines
	table    func(io.Writer, []R) error
	asJSON   *bool
	fromJSON *bool
}

// NewOutput defines -json and -table on the command line (flag.CommandLine)
// for the command name, whose results table writes as a markdown table;
// call it before flag.Parse.
func NewOutput[R Result](name string, table func(io.Writer, []R) error) *Output[R] {
	return &Output[R]{
		name:     name,
		table:    table,
		asJSON:   flag.Bool("json", false, "print JSON instead of the markdown table"),
		fromJSON: flag.Bool("table", false, "print the table of the JSON result files given as arguments (earlier -json runs) and exit"),
	}
}

// TableOnly, with -table, prints one table of the JSON result files named
// by the arguments and exits (1 on an error); without it, it returns.
func (o *Output[R]) TableOnly() {
	if !*o.fromJSON {
		return
	}
	rs, err := readResults[R](flag.Args())
	if err == nil {
		err = o.table(os.Stdout, rs)
	}
	o.exitOn(err)
	os.Exit(0)
}

// Finish prints rs, as JSON with -json, else as a line saying when the
// run started, notes, how long it took and the command line (cmd and the
// arguments), then the table; it exits 1 when printing failed or a result
// is not OK, and returns otherwise.
func (o *Output[R]) Finish(rs []R, start time.Time, cmd string, notes ...string) {
	var err error
	if *o.asJSON {
		err = WriteJSON(os.Stdout, rs)
	} else {
		head := append([]string{start.UTC().Format("2006-01-02 15:04 MST")}, notes...)
		fmt.Printf("\n%s, %.0f s: %s %s\n\n", strings.Join(head, ", "), time.Since(start).Seconds(), cmd, strings.Join(os.Args[1:], " "))
		err = o.table(os.Stdout, rs)
	}
	o.exitOn(err)
	for _, r := range rs {
		if !r.OK() {
			os.Exit(1)
		}
	}
}

func (o *Output[R]) exitOn(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, o.name+":", err)
		os.Exit(1)
	}
}

// Given is the set of flags the command line gave (flag.Visit), after
// flag.Parse.
func Given() map[string]bool {
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// Default sets *dst to v unless the command line gave flag name (given is
// Given's): a mode such as -short changes the defaults, not what was
// asked for.
func Default[T any](given map[string]bool, name string, dst *T, v T) {
	if !given[name] {
		*dst = v
	}
}

// Split is the non-empty, trimmed items of a comma-separated list.
func Split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
