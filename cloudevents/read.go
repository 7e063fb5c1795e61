package cloudevents

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/heraldkit/herald"
)

// readPrefixes are the binary-mode prefixes FromMessage accepts, with
// whether their values are percent-encoded: Kafka's "ce_", NATS's (and
// HTTP's, and knative-rabbitmq's) "ce-", and the AMQP binding's two.
var readPrefixes = []struct {
	prefix  string
	percent bool
}{{"ce_", false}, {"ce-", true}, {"cloudevents_", false}, {"cloudevents:", false}}

// FromMessage reads the CloudEvent m carries, whatever backend or binding
// wrote it (lenient reads): structured mode when its content-type header
// (any case) starts with application/cloudevents, or when it has no
// CloudEvents headers and its payload is a JSON object with a
// specversion (sdk-go's NATS structured mode sends no header); else
// binary mode under whichever of the prefixes ce_, ce-, cloudEvents_ and
// cloudEvents: (any case) carries specversion. "ce-" values are
// percent-decoded and unquoted as the NATS binding says. Extension names
// are lower-cased and kept even when a write would refuse them (a header
// ce_my-ext is the extension "my-ext"). Binary mode from an AMQP 1.0
// client through RabbitMQ 3.10 to 3.12 (attributes in the
// x-amqp-1.0-app-properties header, AMQP 1.0-encoded) is read too; a
// header that does not decode is an error naming it. A message that is
// not a valid event returns a *ValidationError naming the attribute.
func FromMessage(m *herald.Message) (Event, error) {
	ct := lookup(m, "content-type")
	if mt := strings.ToLower(ct); strings.HasPrefix(mt, "application/cloudevents") {
		if strings.HasPrefix(mt, "application/cloudevents-batch") {
			return Event{}, &ValidationError{Attribute: "datacontenttype", Value: ct, Problem: "batch mode is not supported", Allowed: "application/cloudevents+json or binary mode"}
		}
		return unmarshalStructured(m.Payload)
	}
	for _, p := range readPrefixes {
		if lookup(m, p.prefix+"specversion") != "" {
			return readBinary(m, p.prefix, p.percent, ct)
		}
	}
	if raw := lookup(m, amqp10AppPropertiesHeader); raw != "" {
		if ev, ok, err := readAMQP10(m, raw, ct); ok {
			return ev, err
		}
	}
	if b := bytes.TrimSpace(m.Payload); len(b) > 0 && b[0] == '{' && bytes.Contains(b, []byte(`"specversion"`)) {
		return unmarshalStructured(m.Payload)
	}
	return Event{}, &ValidationError{Attribute: "specversion", Problem: "is missing: the message is not a CloudEvent", Allowed: "a ce_, ce-, cloudEvents_ or cloudEvents: specversion header, or content type application/cloudevents+json"}
}

// lookup returns the metadata value whose key equals name in any case.
func lookup(m *herald.Message, name string) string {
	if v, ok := m.Metadata[name]; ok {
		return v
	}
	for k, v := range m.Metadata {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// readBinary reads the attributes under prefix (compared in any case).
func readBinary(m *herald.Message, prefix string, percent bool, contentType string) (Event, error) {
	ev := Event{Data: m.Payload}
	for k, raw := range m.Metadata {
		if len(k) <= len(prefix) || !strings.EqualFold(k[:len(prefix)], prefix) {
			continue
		}
		name := strings.ToLower(k[len(prefix):])
		v := raw
		if percent {
			var ok bool
			if v, ok = percentDecode(unquote(raw)); !ok {
				return ev, &ValidationError{Attribute: name, Value: raw, Problem: "percent-decodes to invalid UTF-8", Allowed: "percent-encoded UTF-8"}
			}
		}
		switch name {
		case "specversion":
			ev.SpecVersion = v
		case "id":
			ev.ID = v
		case "source":
			ev.Source = v
		case "type":
			ev.Type = v
		case "subject":
			ev.Subject = v
		case "datacontenttype":
			ev.DataContentType = v
		case "dataschema":
			ev.DataSchema = v
		case "time":
			t, err := parseTime(v)
			if err != nil {
				return ev, &ValidationError{Attribute: "time", Value: v, Problem: "is not an RFC 3339 timestamp", Allowed: "e.g. 2026-12-07T13:40:00Z"}
			}
			ev.Time = t
		default:
			if ev.Extensions == nil {
				ev.Extensions = map[string]any{}
			}
			ev.Extensions[name] = v
		}
	}
	if ev.DataContentType == "" {
		ev.DataContentType = contentType
	}
	return ev, ev.validateContext(false)
}

// Handler returns a herald.Handler that reads each message's CloudEvent
// (FromMessage) and calls fn with it. A message that is not a valid
// CloudEvent is a herald.Permanent error (dead-lettered, not retried, by
// the middleware), as a JSON payload that does not decode is for
// herald.JSON.
func Handler(fn func(ctx context.Context, ev Event, m *herald.Message) error) herald.Handler {
	return func(ctx context.Context, m *herald.Message) error {
		ev, err := FromMessage(m)
		if err != nil {
			return herald.Permanent(fmt.Errorf("herald: message %s: read CloudEvent: %w", m.UUID, err))
		}
		return fn(ctx, ev, m)
	}
}
