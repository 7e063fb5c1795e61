package benchkit

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteText writes the results as aligned tables, one per broker and size,
// then the ratios.
func (rep *Report) WriteText(w io.Writer) error {
	for _, b := range rep.Brokers() {
		for _, size := range rep.Sizes {
			n := 0
			if r := rep.firstResult(b, size); r != nil {
				n = r.N
			}
			if _, err := fmt.Fprintf(w, "%s, %s, n=%d, %d round(s)\n", b, fmtSize(size), n, rep.Rounds); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "case\tpublish msg/s\tend-to-end msg/s\tp50\tp95\tp99\tallocs/msg\tCPU µs/msg\tbroker CPU µs/msg\tpeak RSS\t")
			for _, r := range rep.Results {
				if r.Broker != b || r.Size != size {
					continue
				}
				if len(r.Samples) == 0 {
					fmt.Fprintf(tw, "%s\tfailed\t\t\t\t\t\t\t\t\t\n", r.Case)
					continue
				}
				s := r.Summary
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%.1f\t%s\t%s\t%s\t\n", r.Case,
					fmtStat(s.PublishRate, len(r.Samples)), fmtStat(s.E2ERate, len(r.Samples)),
					fmtLatency(s.P50.Median), fmtLatency(s.P95.Median), fmtLatency(s.P99.Median),
					s.AllocsPerMsg.Median, fmtCPU(s.CPUPerMsg.Median), fmtCPU(s.BrokerCPU.Median), fmtBytes(s.PeakRSS.Median))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if _, err := fmt.Fprintln(w); err != nil {
				return err
			}
		}
	}
	if len(rep.Ratios) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ratio\tbroker\tsize\tvalue\ttarget\t")
		for _, r := range rep.Ratios {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", r.Label, r.Broker, fmtSize(r.Size), fmtRatio(r.Value), targetText(r))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, r := range rep.Results {
		for _, e := range r.Errors {
			if _, err := fmt.Fprintln(w, "error:", strings.TrimSpace(e)); err != nil {
				return err
			}
		}
	}
	return nil
}

// targetText says a ratio's target and whether it is met.
func targetText(r Ratio) string {
	if r.Target == 0 {
		return ""
	}
	op := ">="
	if r.AtMost {
		op = "<="
	}
	verdict := "met"
	if !r.Met() {
		verdict = "NOT met"
	}
	return fmt.Sprintf("%s %s: %s", op, fmtRatio(r.Target), verdict)
}
