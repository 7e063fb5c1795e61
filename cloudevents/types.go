package cloudevents

import (
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// canonical renders an attribute value in the canonical string form of its
// CloudEvents type, and reports whether the type is one CloudEvents
// defines.
func canonical(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case int32:
		return strconv.FormatInt(int64(x), 10), true
	case int:
		if x != int(int32(x)) {
			return "", false
		}
		return strconv.Itoa(x), true
	case []byte:
		return base64.StdEncoding.EncodeToString(x), true
	case time.Time:
		return formatTime(x), true
	case *url.URL:
		if x == nil {
			return "", false
		}
		return x.String(), true
	}
	return "", false
}

// formatTime is the canonical Timestamp form: RFC 3339, in UTC.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// checkTime refuses a time the canonical Timestamp form cannot carry:
// RFC 3339 has four-digit years, 0000-9999 (in UTC, as formatTime writes
// it), and no reader parses "10000-01-01T00:00:00Z" or a negative year.
func checkTime(name string, t time.Time) error {
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		return &ValidationError{Attribute: name, Value: t.String(), Problem: "is outside RFC 3339's years", Allowed: "a time from 0000-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z"}
	}
	return nil
}

// parseTime reads an RFC 3339 timestamp, its "T" and "Z" in either case
// (RFC 3339 5.6 allows lower case; Go's layout does not).
func parseTime(s string) (time.Time, error) {
	return time.Parse(time.RFC3339Nano, strings.ToUpper(s))
}
