package chaos

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteTable writes the results as a markdown table.
func WriteTable(w io.Writer, rs []Result) error {
	var b strings.Builder
	b.WriteString("| broker | case | broker setup | acked | lost | duplicates | publish errors | first (s) | resume (s) | max delay (s) | duration (s) | note |\n")
	b.WriteString("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
	for _, r := range rs {
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
		if len(note) > 160 {
			note = note[:160] + "..."
		}
		note = strings.ReplaceAll(strings.ReplaceAll(note, "|", "/"), "\n", " ")
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %d | %d | %d | %s | %s | %.1f | %.0f | %s |\n",
			r.Broker, r.Case, r.Target, r.Acked, r.Lost, r.Duplicates, r.PubErrors, first, resume, r.MaxDelay, r.DurationSec, note)
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
