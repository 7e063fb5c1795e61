package cloudevents

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// isJSON reports whether a datacontenttype is JSON (absent counts: the
// JSON format's default).
func isJSON(ct string) bool {
	if ct == "" {
		return true
	}
	mt, err := mediaType(ct, true)
	if err != nil {
		return false
	}
	return mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")
}

// isText reports whether a datacontenttype is text the JSON format may
// carry as a string.
func isText(ct string) bool {
	mt, err := mediaType(ct, true)
	return err == nil && (strings.HasPrefix(mt, "text/") || mt == "application/xml" || strings.HasSuffix(mt, "+xml"))
}

// marshalStructured renders ev in the JSON event format: data inline when
// it is JSON (or text, as a string), else data_base64.
func marshalStructured(ev Event) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	field := func(name string, v any) error {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(name)
		b.Write(k)
		b.WriteByte(':')
		if raw, ok := v.(json.RawMessage); ok {
			b.Write(raw)
			return nil
		}
		enc, err := json.Marshal(v)
		if err != nil {
			return err
		}
		b.Write(enc)
		return nil
	}
	_ = field("specversion", SpecVersion)
	_ = field("id", ev.ID)
	_ = field("source", ev.Source)
	_ = field("type", ev.Type)
	if ev.Subject != "" {
		_ = field("subject", ev.Subject)
	}
	if !ev.Time.IsZero() {
		_ = field("time", formatTime(ev.Time))
	}
	if ev.DataContentType != "" {
		_ = field("datacontenttype", ev.DataContentType)
	}
	if ev.DataSchema != "" {
		_ = field("dataschema", ev.DataSchema)
	}
	for _, name := range slices.Sorted(maps.Keys(ev.Extensions)) {
		v := ev.Extensions[name]
		switch x := v.(type) {
		case bool, int32:
		case int:
			v = int32(x)
		default:
			v, _ = canonical(v)
		}
		if err := field(name, v); err != nil {
			return nil, err
		}
	}
	if len(ev.Data) > 0 {
		switch {
		case isJSON(ev.DataContentType) && json.Valid(ev.Data):
			var c bytes.Buffer
			if err := json.Compact(&c, ev.Data); err != nil {
				return nil, err
			}
			_ = field("data", json.RawMessage(c.Bytes()))
		case isText(ev.DataContentType) && utf8.Valid(ev.Data):
			_ = field("data", string(ev.Data))
		default:
			_ = field("data_base64", base64.StdEncoding.EncodeToString(ev.Data))
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// unmarshalStructured reads the JSON event format.
func unmarshalStructured(body []byte) (Event, error) {
	var ev Event
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return ev, &ValidationError{Attribute: "specversion", Problem: "structured event is not a JSON object: " + err.Error(), Allowed: "the CloudEvents JSON event format"}
	}
	str := func(name string) (string, error) {
		raw, ok := fields[name]
		if !ok || string(raw) == "null" {
			return "", nil
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", &ValidationError{Attribute: name, Value: string(raw), Problem: "is not a JSON string", Allowed: "a string"}
		}
		return s, nil
	}
	var err error
	for _, a := range []struct {
		name string
		dst  *string
	}{{"specversion", &ev.SpecVersion}, {"id", &ev.ID}, {"source", &ev.Source}, {"type", &ev.Type}, {"subject", &ev.Subject}, {"datacontenttype", &ev.DataContentType}, {"dataschema", &ev.DataSchema}} {
		if *a.dst, err = str(a.name); err != nil {
			return ev, err
		}
	}
	if ev.SpecVersion == "" {
		return ev, &ValidationError{Attribute: "specversion", Problem: "is missing", Allowed: `"1.0"`}
	}
	ts, err := str("time")
	if err != nil {
		return ev, err
	}
	if ts != "" {
		if ev.Time, err = parseTime(ts); err != nil {
			return ev, &ValidationError{Attribute: "time", Value: ts, Problem: "is not an RFC 3339 timestamp", Allowed: "e.g. 2026-12-07T13:40:00Z"}
		}
	}
	data, hasData := fields["data"]
	b64, hasB64 := fields["data_base64"]
	if hasData && hasB64 && string(data) != "null" && string(b64) != "null" { // null is absent
		return ev, &ValidationError{Attribute: "data_base64", Problem: "is present together with data", Allowed: "one of data and data_base64"}
	}
	switch {
	case hasB64 && string(b64) != "null":
		s, err := str("data_base64")
		if err != nil {
			return ev, err
		}
		if ev.Data, err = base64.StdEncoding.DecodeString(s); err != nil {
			return ev, &ValidationError{Attribute: "data_base64", Problem: "is not base64", Allowed: "standard base64 (RFC 4648)"}
		}
	case hasData && string(data) != "null":
		var s string
		if !isJSON(ev.DataContentType) && json.Unmarshal(data, &s) == nil {
			ev.Data = []byte(s)
		} else {
			ev.Data = []byte(data)
		}
	}
	for name, raw := range fields {
		if isContextAttribute(name) || string(raw) == "null" {
			continue
		}
		v, err := extensionFromJSON(name, raw)
		if err != nil {
			return ev, err
		}
		if ev.Extensions == nil {
			ev.Extensions = map[string]any{}
		}
		ev.Extensions[name] = v
	}
	return ev, ev.validateContext(false)
}

func isContextAttribute(name string) bool { return slices.Contains(contextAttributes, name) }

// extensionFromJSON types an extension value of the JSON format: a string,
// a bool, or an integer in the int32 range.
func extensionFromJSON(name string, raw json.RawMessage) (any, error) {
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return nil, &ValidationError{Attribute: name, Value: string(raw), Problem: "is not JSON", Allowed: "a string, boolean or integer"}
	}
	switch x := v.(type) {
	case string, bool:
		return x, nil
	case json.Number:
		n, err := x.Int64()
		if err != nil || n < math.MinInt32 || n > math.MaxInt32 {
			return nil, &ValidationError{Attribute: name, Value: string(raw), Problem: "is not an Integer", Allowed: "an integer from -2147483648 to 2147483647"}
		}
		return int32(n), nil
	}
	return nil, &ValidationError{Attribute: name, Value: string(raw), Problem: "is not a CloudEvents value", Allowed: "a string, boolean or integer"}
}
