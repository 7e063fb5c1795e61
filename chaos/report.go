package chaos

import (
	"fmt"
	"io"

	"github.com/heraldkit/herald/internal/faultkit"
)

// WriteTable writes the results as a markdown table.
func WriteTable(w io.Writer, rs []Result) error {
	return faultkit.WriteTable(w, "| broker | case | broker setup | acked | lost | duplicates | publish errors | first (s) | resume (s) | max delay (s) | duration (s) | note |\n"+
		"|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|\n", rs, row)
}

func row(r Result) string {
	resume, first := "-", "-"
	if r.ResumeSec >= 0 && r.Acked > 0 {
		resume = fmt.Sprintf("%.1f", r.ResumeSec)
	}
	if r.FirstSec >= 0 && r.Acked > 0 {
		first = fmt.Sprintf("%.1f", r.FirstSec)
	}
	note := r.Error
	if note == "" && r.PubErrors > 0 {
		note = "last publish error: " + r.LastError
	}
	return fmt.Sprintf("| %s | %s | %s | %d | %d | %d | %d | %s | %s | %.1f | %.0f | %s |",
		r.Broker, r.Case, r.Target, r.Acked, r.Lost, r.Duplicates, r.PubErrors, first, resume, r.MaxDelay, r.DurationSec, faultkit.Note(note))
}
