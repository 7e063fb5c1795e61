package herald

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// OptionReader reads and validates a Config's backend-specific Options.
// An adapter reads every key it understands, then calls Err, which also
// reports keys that nobody read (unknown keys) together with the allowed
// ones:
//
//	r := cfg.OptionReader()
//	partitions := r.Int("partitions", 1, 1, 10000)
//	mode := r.Enum("mode", "jetstream", "jetstream", "core")
//	if err := r.Err(); err != nil { return err }
type OptionReader struct {
	cfg  Config
	read map[string]bool
	errs []error
}

// OptionReader returns a reader over c.Options.
func (c Config) OptionReader() *OptionReader {
	return &OptionReader{cfg: c, read: map[string]bool{}}
}

func (r *OptionReader) lookup(key string) (string, bool) {
	r.read[key] = true
	v, ok := r.cfg.Options[key]
	return v, ok
}

func (r *OptionReader) fail(key, val, problem, allowed string) {
	if IsSecretKey(key) {
		val = ""
	}
	r.errs = append(r.errs, &ConfigError{Key: key, Value: val, Problem: problem, Allowed: allowed})
}

// Has reports whether key is set, and marks it as known.
func (r *OptionReader) Has(key string) bool {
	_, ok := r.lookup(key)
	return ok
}

// String returns the value of key, or def when unset.
func (r *OptionReader) String(key, def string) string {
	if v, ok := r.lookup(key); ok {
		return v
	}
	return def
}

// Enum returns the value of key, which must be one of allowed, or def.
func (r *OptionReader) Enum(key, def string, allowed ...string) string {
	v, ok := r.lookup(key)
	if !ok {
		return def
	}
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return a
		}
	}
	r.fail(key, v, "is not a recognised value", strings.Join(allowed, ", "))
	return def
}

// Bool returns the value of key parsed as a boolean, or def.
func (r *OptionReader) Bool(key string, def bool) bool {
	v, ok := r.lookup(key)
	if !ok {
		return def
	}
	switch strings.ToLower(v) {
	case "1", "t", "true", "yes", "on":
		return true
	case "0", "f", "false", "no", "off":
		return false
	}
	r.fail(key, v, "is not a boolean", "true, false, 1, 0, yes, no, on, off")
	return def
}

// Int returns the value of key parsed as an integer in [min, max], or def.
func (r *OptionReader) Int(key string, def, min, max int) int {
	v, ok := r.lookup(key)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		r.fail(key, v, "is not an integer", fmt.Sprintf("an integer from %d to %d", min, max))
		return def
	}
	if n < min || n > max {
		r.fail(key, v, "is out of range", fmt.Sprintf("an integer from %d to %d", min, max))
		return def
	}
	return n
}

// Duration returns the value of key parsed by time.ParseDuration, in
// [min, max], or def.
func (r *OptionReader) Duration(key string, def, min, max time.Duration) time.Duration {
	v, ok := r.lookup(key)
	if !ok {
		return def
	}
	allowed := fmt.Sprintf("a duration such as 500ms, 30s or 2m, from %v to %v", min, max)
	d, err := time.ParseDuration(v)
	if err != nil {
		r.fail(key, v, "is not a duration", allowed)
		return def
	}
	if d < min || d > max {
		r.fail(key, v, "is out of range", allowed)
		return def
	}
	return d
}

// Fail records a custom problem with key, for checks the typed readers
// cannot express (values that exclude each other, a missing file).
func (r *OptionReader) Fail(key, value, problem, allowed string) {
	r.read[key] = true
	r.fail(key, value, problem, allowed)
}

// Err returns the problems found, joined, or nil. Keys present in Options
// that were never read are reported as unknown, with the list of keys this
// backend accepts.
func (r *OptionReader) Err() error {
	errs := r.errs
	var known []string
	for k := range r.read {
		known = append(known, k)
	}
	known = append(known, "group", "prefetch") // read on every backend, by the facade
	sort.Strings(known)
	for _, k := range r.cfg.optionKeys() {
		if !r.read[k] {
			problem := fmt.Sprintf("is not a known option for scheme %q", r.cfg.Scheme)
			if s := closest(k, known); s != "" {
				problem += fmt.Sprintf("; did you mean %q?", s)
			}
			errs = append(errs, &ConfigError{Key: k, Problem: problem, Allowed: strings.Join(known, ", ")})
		}
	}
	return errors.Join(errs...)
}

// closest returns the candidate within edit distance 2 of key, if any.
func closest(key string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(key), c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
