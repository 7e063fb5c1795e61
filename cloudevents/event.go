package cloudevents

import (
	"errors"
	"fmt"
	"maps"
	"mime"
	"net/url"
	"regexp"
	"slices"
	"time"
	"unicode/utf8"
)

// SpecVersion is the CloudEvents version this package writes and reads.
const SpecVersion = "1.0"

// Event is one CloudEvent: its context attributes and its data. The zero
// value of an optional attribute (Subject, Time, DataContentType,
// DataSchema) means the attribute is absent.
type Event struct {
	// ID identifies the event; with Source it is unique. Required. A
	// message written from the event has MessageID(Source, ID) as its
	// Herald message ID, so dedup and the inbox key on both.
	ID string
	// Source is the context that produced the event: a URI-reference.
	// Required.
	Source string
	// SpecVersion is "1.0"; empty is written as "1.0".
	SpecVersion string
	// Type describes the kind of event, e.g. "com.example.order.placed".
	// Required.
	Type string
	// Subject is the subject of the event within Source. Optional.
	Subject string
	// Time is when the event happened, in RFC 3339's years 0000-9999
	// (UTC). Optional (zero: absent).
	Time time.Time
	// DataContentType is the media type of Data (RFC 2046). Optional.
	DataContentType string
	// DataSchema is the absolute URI of the schema Data adheres to.
	// Optional.
	DataSchema string
	// Extensions holds the extension attributes by name (lower-case
	// letters and digits). A value is a string, bool, int32 (an int in the
	// int32 range is taken as one), []byte, time.Time or *url.URL. Read
	// from a binary-mode message every value is a string: the bindings
	// carry no types.
	Extensions map[string]any
	// Data is the event payload, encoded as DataContentType says.
	Data []byte
}

// ValidationError says which attribute of an event is wrong, what is
// wrong with it and what is allowed.
type ValidationError struct {
	Attribute string // the attribute name, e.g. "source" or an extension's
	Value     string // the offending value, "" when missing
	Problem   string // e.g. "is missing"
	Allowed   string // e.g. "a non-empty URI-reference"
}

// Error formats as: cloudevents: attribute "a": value "v": problem (allowed: ...).
func (e *ValidationError) Error() string {
	s := fmt.Sprintf("cloudevents: attribute %q", e.Attribute)
	if e.Value != "" {
		s += fmt.Sprintf(": value %q", e.Value)
	}
	s += ": " + e.Problem
	if e.Allowed != "" {
		s += " (allowed: " + e.Allowed + ")"
	}
	return s
}

// contextAttributes are the names an extension may not take.
var contextAttributes = []string{"id", "source", "specversion", "type", "subject", "time", "datacontenttype", "dataschema", "data", "data_base64"}

var extensionName = regexp.MustCompile(`^[a-z0-9]+$`)

// Validate checks the event against the CloudEvents 1.0 rules and returns
// a *ValidationError naming the first wrong attribute, or nil.
func (e Event) Validate() error {
	if err := e.validateContext(true); err != nil {
		return err
	}
	if !e.Time.IsZero() {
		if err := checkTime("time", e.Time); err != nil {
			return err
		}
	}
	for _, a := range [...]struct{ name, v string }{{"id", e.ID}, {"source", e.Source}, {"type", e.Type}, {"subject", e.Subject}, {"datacontenttype", e.DataContentType}, {"dataschema", e.DataSchema}} {
		if err := checkString(a.name, a.v); err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(e.Extensions)) {
		if err := checkExtension(name, e.Extensions[name]); err != nil {
			return err
		}
		if s, ok := e.Extensions[name].(string); ok {
			if err := checkString(name, s); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkString refuses what the CloudEvents String type excludes: the
// control characters U+0000-U+001F and U+007F-U+009F, noncharacters, and
// surrogates (invalid UTF-8 in Go). Writes only: reads stay lenient.
func checkString(name, v string) error {
	bad := !utf8.ValidString(v)
	for _, r := range v {
		if bad {
			break
		}
		bad = r <= 0x1f || r >= 0x7f && r <= 0x9f || r >= 0xfdd0 && r <= 0xfdef || r&0xfffe == 0xfffe
	}
	if bad {
		return &ValidationError{Attribute: name, Value: v, Problem: "holds a character the CloudEvents String type excludes", Allowed: "valid UTF-8 without control characters (U+0000-U+001F, U+007F-U+009F) or noncharacters"}
	}
	return nil
}

// validateContext checks the context attributes, not the extensions: a
// read accepts extension names other stacks write (a header ce_my-ext
// gives an extension "my-ext"), a write does not. A read (strict false)
// also accepts a datacontenttype whose media type parses but one of its
// parameters does not (see mediaType).
func (e Event) validateContext(strict bool) error {
	if e.ID == "" {
		return &ValidationError{Attribute: "id", Problem: "is missing", Allowed: "a non-empty string"}
	}
	if e.Source == "" {
		return &ValidationError{Attribute: "source", Problem: "is missing", Allowed: "a non-empty URI-reference"}
	}
	if _, err := url.Parse(e.Source); err != nil {
		return &ValidationError{Attribute: "source", Value: e.Source, Problem: "is not a URI-reference", Allowed: "a URI-reference (RFC 3986), e.g. /orders or https://example.com/orders"}
	}
	if e.SpecVersion != "" && e.SpecVersion != SpecVersion {
		return &ValidationError{Attribute: "specversion", Value: e.SpecVersion, Problem: "is not supported", Allowed: `"1.0"`}
	}
	if e.Type == "" {
		return &ValidationError{Attribute: "type", Problem: "is missing", Allowed: "a non-empty string, e.g. com.example.order.placed"}
	}
	if e.DataContentType != "" {
		if _, err := mediaType(e.DataContentType, !strict); err != nil {
			return &ValidationError{Attribute: "datacontenttype", Value: e.DataContentType, Problem: "is not a media type", Allowed: "an RFC 2046 media type, e.g. application/json"}
		}
	}
	if e.DataSchema != "" {
		if u, err := url.Parse(e.DataSchema); err != nil || !u.IsAbs() {
			return &ValidationError{Attribute: "dataschema", Value: e.DataSchema, Problem: "is not an absolute URI", Allowed: "an absolute URI, e.g. https://example.com/schemas/order.json"}
		}
	}
	return nil
}

// mediaType returns the media type of a content type, lower-cased. When
// lenient (reads) a parameter that does not parse, such as
// profile=https://example.com/p with its '/' unquoted, does not hide the
// media type: mime.ParseMediaType returns it with ErrInvalidMediaParameter.
func mediaType(ct string, lenient bool) (string, error) {
	mt, _, err := mime.ParseMediaType(ct)
	if lenient && errors.Is(err, mime.ErrInvalidMediaParameter) {
		err = nil
	}
	return mt, err
}

// checkExtension validates an extension's name and the type of its value.
func checkExtension(name string, v any) error {
	if !extensionName.MatchString(name) {
		return &ValidationError{Attribute: name, Problem: "is not a valid extension name", Allowed: "lower-case letters a-z and digits 0-9"}
	}
	if slices.Contains(contextAttributes, name) {
		return &ValidationError{Attribute: name, Problem: "is a context attribute, not an extension", Allowed: "set the Event field instead"}
	}
	if t, ok := v.(time.Time); ok {
		if err := checkTime(name, t); err != nil {
			return err
		}
	}
	if _, ok := canonical(v); !ok {
		return &ValidationError{Attribute: name, Value: fmt.Sprintf("%T", v), Problem: "has a type CloudEvents does not define", Allowed: "string, bool, int32 (or an int in range), []byte, time.Time, *url.URL"}
	}
	return nil
}

// SetExtension sets extension name to v after checking both, returning a
// *ValidationError naming the extension when either is wrong.
func (e *Event) SetExtension(name string, v any) error {
	if n, ok := v.(int); ok && n == int(int32(n)) {
		v = int32(n)
	}
	if err := checkExtension(name, v); err != nil {
		return err
	}
	if e.Extensions == nil {
		e.Extensions = map[string]any{}
	}
	e.Extensions[name] = v
	return nil
}

// Extension returns extension name in its canonical string form (as the
// binary mode carries it) and whether it is set.
func (e Event) Extension(name string) (string, bool) {
	v, ok := e.Extensions[name]
	if !ok {
		return "", false
	}
	s, _ := canonical(v)
	return s, true
}
