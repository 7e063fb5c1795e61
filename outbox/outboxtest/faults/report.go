package faults

import (
	"fmt"
	"io"

	"github.com/heraldkit/herald/internal/faultkit"
)

// WriteTable writes the results as a markdown table.
func WriteTable(w io.Writer, rs []Result) error {
	return faultkit.WriteTable(w, "| case | database | relays | faults | committed | rolled back | lost | rolled-back published | duplicates | in doubt | catch-up (s) | max delay (s) | relay CPU (s) | duration (s) | note |\n"+
		"|---|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n", rs, row)
}

func row(r Result) string {
	catch := "-"
	if r.CatchUpSec >= 0 && r.Committed > 0 {
		catch = fmt.Sprintf("%.1f", r.CatchUpSec)
	}
	faults := "-"
	switch {
	case r.Case == CaseDBRestart || r.Case == CaseBrokerDown:
		faults = plural(r.Faults, "restart")
	case r.Faults > 0:
		faults = fmt.Sprintf("%s (%d mid-batch)", plural(r.Faults, "kill"), r.MidBatch)
	}
	return fmt.Sprintf("| %s | %s | %d | %s | %d | %d | %d | %d | %d | %d | %s | %.1f | %.1f | %.0f | %s |",
		r.Case, r.Database, r.Relays, faults, r.Committed, r.RolledBack, r.Lost, r.RolledBackPublished, r.Duplicates, r.InDoubt,
		catch, r.MaxDelaySec, r.RelayCPUSec, r.DurationSec, faultkit.Note(r.Error))
}

// plural is "n thing" or "n things".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
