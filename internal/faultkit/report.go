package faultkit

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// WriteTable writes a markdown table: head (its header and rule lines,
// each ending in a newline), then row(r) (one line, without its newline)
// for each result.
func WriteTable[R any](w io.Writer, head string, rs []R, row func(R) string) error {
	var b strings.Builder
	b.WriteString(head)
	for _, r := range rs {
		b.WriteString(row(r))
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Note is s fit for a table cell: its first 160 bytes (then "..."), "|"
// as "/", newlines as spaces.
func Note(s string) string {
	if len(s) > 160 {
		s = s[:160] + "..."
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", "/"), "\n", " ")
}

// WriteJSON writes v as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(v)
}

// readResults reads the results of JSON files written with WriteJSON, in
// the order of files.
func readResults[R any](files []string) ([]R, error) {
	var all []R
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var rs []R
		if err := json.Unmarshal(b, &rs); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		all = append(all, rs...)
	}
	return all, nil
}
