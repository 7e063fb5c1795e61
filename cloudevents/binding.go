package cloudevents

import (
	"fmt"
	"strings"

	"github.com/heraldkit/herald"
)

// A Binding is how one protocol carries CloudEvents: the header prefix of
// the binary mode, where datacontenttype goes, and how header values are
// escaped. BindingFor picks it from the backend's scheme.
type Binding struct {
	name      string // the protocol binding, for messages
	prefix    string // the binary-mode header prefix
	dctHeader string // the binary-mode header of datacontenttype
	ctHeader  string // the structured-mode content-type header
	percent   bool   // header values are percent-encoded (NATS)
	altPrefix string // an alternative prefix a WithAMQPColonPrefix writer uses
}

// The bindings.
var (
	// Kafka follows the Kafka protocol binding: "ce_" headers, the
	// datacontenttype in the "content-type" header, UTF-8 values as they
	// are, the record key kept.
	Kafka = Binding{name: "Kafka", prefix: "ce_", dctHeader: herald.ContentTypeHeader, ctHeader: herald.ContentTypeHeader}
	// NATS follows the NATS protocol binding: every attribute, datacontenttype
	// included, as a "ce-" header with a percent-encoded value; structured
	// mode announced by a "Content-Type: application/cloudevents+json"
	// header. The mem and embedded backends use it too.
	NATS = Binding{name: "NATS", prefix: "ce-", dctHeader: "ce-datacontenttype", ctHeader: "Content-Type", percent: true}
	// AMQP is the AMQP 1.0 binding's header convention applied to AMQP
	// 0-9-1 headers: "cloudEvents_" headers (the separator the binding
	// prefers, JMS-compatible), the datacontenttype in Herald's
	// "content-type" metadata. See the package documentation for why.
	AMQP = Binding{name: "AMQP", prefix: "cloudEvents_", dctHeader: herald.ContentTypeHeader, ctHeader: herald.ContentTypeHeader, altPrefix: "cloudEvents:"}
)

// schemes maps each backend scheme to its binding.
var schemes = map[string]Binding{
	"kafka":    Kafka,
	"nats":     NATS,
	"mem":      NATS,
	"embedded": NATS,
	"amqp":     AMQP,
	"amqps":    AMQP,
}

// BindingFor returns the binding of a backend scheme (kafka, nats, amqp,
// amqps, mem, embedded). Another scheme is refused with a *herald.Error of
// kind herald.KindInvalid naming it.
func BindingFor(scheme string) (Binding, error) {
	b, ok := schemes[strings.ToLower(scheme)]
	if !ok {
		return Binding{}, &herald.Error{Backend: scheme, Op: "cloudevents", Kind: herald.KindInvalid,
			Err: fmt.Errorf("backend %q has no CloudEvents binding (allowed: kafka, nats, amqp, amqps, mem, embedded)", scheme)}
	}
	return b, nil
}

// String names the binding: "Kafka", "NATS" or "AMQP".
func (b Binding) String() string { return b.name }

// Prefix is the header prefix the binding writes in binary mode.
func (b Binding) Prefix() string { return b.prefix }

// Mode is a CloudEvents content mode.
type Mode uint8

const (
	// Binary puts the attributes in headers and the data, as it is, in the
	// payload (the default).
	Binary Mode = iota
	// Structured puts the whole event in the payload as the JSON event
	// format, with content type application/cloudevents+json.
	Structured
)

// String names the mode.
func (m Mode) String() string {
	if m == Structured {
		return "structured"
	}
	return "binary"
}

// StructuredContentType is the content type of a structured-mode message.
const StructuredContentType = "application/cloudevents+json; charset=UTF-8"

// Option configures how an event is written.
type Option func(*options) error

type options struct {
	mode         Mode
	partitionKey bool
	amqpColon    bool
}

// WithMode sets the content mode (default Binary).
func WithMode(m Mode) Option {
	return func(o *options) error {
		if m != Binary && m != Structured {
			return &herald.ConfigError{Key: "cloudevents mode", Value: fmt.Sprint(uint8(m)), Problem: "is unknown", Allowed: "cloudevents.Binary, cloudevents.Structured"}
		}
		o.mode = m
		return nil
	}
}

// WithPartitionKey maps the event's "partitionkey" extension, when it is
// set, to the message's Herald key (the Kafka record key; the ordering key
// on every backend), as the Kafka binding's opt-in Key Mapper does. The
// event is not changed: the extension travels too. Without it the key
// given to Publish is kept.
func WithPartitionKey() Option {
	return func(o *options) error { o.partitionKey = true; return nil }
}

// WithAMQPColonPrefix writes the "cloudEvents:" prefix instead of
// "cloudEvents_" on AMQP (sdk-go's AMQP 1.0 binding reads only the colon
// form). It is refused on other backends.
func WithAMQPColonPrefix() Option {
	return func(o *options) error { o.amqpColon = true; return nil }
}

func apply(b Binding, scheme string, opts []Option) (options, error) {
	var o options
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&o); err != nil {
			return o, err
		}
	}
	if o.amqpColon && b.altPrefix == "" {
		return o, &herald.Error{Backend: scheme, Op: "cloudevents", Kind: herald.KindInvalid,
			Err: fmt.Errorf("WithAMQPColonPrefix is for the amqp and amqps backends only, not %q", scheme)}
	}
	return o, nil
}
