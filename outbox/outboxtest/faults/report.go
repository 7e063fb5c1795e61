package faults

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteTable writes the results as a markdown table.
func WriteTable(w io.Writer, rs []Result) error {
	var b strings.Builder
	b.WriteString("| case | database | relays | faults | committed | rolled back | lost | rolled-back published | duplicates | in doubt | catch-up (s) | max delay (s) | relay CPU (s) | duration (s) | note |\n")
	b.WriteString("|---|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
	for _, r := range rs {
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
		note := r.Error
		if len(note) > 160 {
			note = note[:160] + "..."
		}
		note = strings.ReplaceAll(strings.ReplaceAll(note, "|", "/"), "\n", " ")
		fmt.Fprintf(&b, "| %s | %s | %d | %s | %d | %d | %d | %d | %d | %d | %s | %.1f | %.1f | %.0f | %s |\n",
			r.Case, r.Database, r.Relays, faults, r.Committed, r.RolledBack, r.Lost, r.RolledBackPublished, r.Duplicates, r.InDoubt,
			catch, r.MaxDelaySec, r.RelayCPUSec, r.DurationSec, note)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the results as a JSON array.
func WriteJSON(w io.Writer, rs []Result) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(rs)
}

// plural is "n thing" or "n things".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
