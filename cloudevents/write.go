package cloudevents

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/heraldkit/herald"
)

// Publisher is what Publish needs: a herald.Publisher that tells its
// backend (publisher.Publisher does).
type Publisher interface {
	herald.Publisher
	Config() herald.Config
}

// Publish writes ev as a message for p's backend (the binding of
// p.Config().Scheme, binary mode unless WithMode(Structured)) and
// publishes it to topic. A non-empty key is the message's Herald key
// (the Kafka record key); see WithPartitionKey. An invalid event is
// refused with a *ValidationError before anything is sent.
func Publish(ctx context.Context, p Publisher, topic, key string, ev Event, opts ...Option) error {
	m, err := NewMessage(p.Config().Scheme, ev, opts...)
	if err != nil {
		return err
	}
	if key != "" && herald.Key(m) == "" {
		herald.SetKey(m, key)
	}
	return p.Publish(ctx, topic, m)
}

// NewMessage returns ev as a message for the backend of scheme (see
// BindingFor). Its Herald message ID is MessageID(ev.Source, ev.ID). An
// invalid event is refused with a *ValidationError naming the attribute.
func NewMessage(scheme string, ev Event, opts ...Option) (*herald.Message, error) {
	b, err := BindingFor(scheme)
	if err != nil {
		return nil, err
	}
	o, err := apply(b, scheme, opts)
	if err != nil {
		return nil, err
	}
	if err := ev.Validate(); err != nil {
		return nil, err
	}
	var m *herald.Message
	if o.mode == Structured {
		body, err := marshalStructured(ev)
		if err != nil {
			return nil, err
		}
		m = message.NewMessage(MessageID(ev.Source, ev.ID), body)
		m.Metadata.Set(b.ctHeader, StructuredContentType)
	} else {
		if err := binaryDataContentType(b, ev.DataContentType); err != nil {
			return nil, err
		}
		m = message.NewMessage(MessageID(ev.Source, ev.ID), ev.Data)
		prefix := b.prefix
		if o.amqpColon {
			prefix = b.altPrefix
		}
		writeBinary(m.Metadata, b, prefix, ev)
	}
	if o.partitionKey {
		if k, ok := ev.Extension("partitionkey"); ok && k != "" {
			herald.SetKey(m, k)
		}
	}
	return m, nil
}

// binaryDataContentType refuses a binary-mode datacontenttype that a
// reader would take for structured mode: where the binding carries
// datacontenttype in the content-type header (Kafka, AMQP), one starting
// with application/cloudevents (data that is itself an event) makes
// FromMessage and sdk-go read the data as the event.
func binaryDataContentType(b Binding, ct string) error {
	if b.dctHeader != b.ctHeader || ct == "" {
		return nil
	}
	if mt, _ := mediaType(ct, true); strings.HasPrefix(mt, "application/cloudevents") {
		return &ValidationError{Attribute: "datacontenttype", Value: ct, Problem: fmt.Sprintf("cannot travel in binary mode on %s: its content-type header would announce structured mode, and a reader would take the data for the event", b.name),
			Allowed: "WithMode(Structured), which carries it, or another media type"}
	}
	return nil
}

// writeBinary sets the attributes of ev as headers.
func writeBinary(md message.Metadata, b Binding, prefix string, ev Event) {
	set := func(name, v string) {
		if b.percent {
			v = percentEncode(v)
		}
		md.Set(name, v)
	}
	set(prefix+"specversion", SpecVersion)
	set(prefix+"id", ev.ID)
	set(prefix+"source", ev.Source)
	set(prefix+"type", ev.Type)
	if ev.Subject != "" {
		set(prefix+"subject", ev.Subject)
	}
	if !ev.Time.IsZero() {
		set(prefix+"time", formatTime(ev.Time))
	}
	if ev.DataContentType != "" {
		name := b.dctHeader
		if name == b.prefix+"datacontenttype" {
			name = prefix + "datacontenttype"
		}
		set(name, ev.DataContentType)
	}
	if ev.DataSchema != "" {
		set(prefix+"dataschema", ev.DataSchema)
	}
	for _, name := range slices.Sorted(maps.Keys(ev.Extensions)) {
		s, _ := canonical(ev.Extensions[name])
		set(prefix+name, s)
	}
}

// MessageID is the Herald message ID of the event source and id identify:
// "ce:" and the first 128 bits, in hex, of the SHA-256 of both. CloudEvents
// identifies an event by source and id together (two producers may send
// the same id), so the message ID covers both: a resend of one event has
// the same ID (middleware.Deduplicate, an inbox and JetStream's duplicate
// window see it once) and events of two sources never share one. Dedupe
// another producer's events on MessageID(ev.Source, ev.ID) too.
func MessageID(source, id string) string {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(source)))
	h.Write(n[:])
	h.Write([]byte(source))
	h.Write([]byte(id))
	return "ce:" + hex.EncodeToString(h.Sum(nil)[:16])
}
