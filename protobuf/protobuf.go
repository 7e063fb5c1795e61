// Package protobuf publishes and handles Protocol Buffers messages as
// herald.NewJSONMessage, herald.PublishJSON, herald.Decode and herald.JSON
// do JSON: the content type set on publish and checked on consume, a
// payload that does not decode a herald.Permanent error. With package
// cloudevents it fills an event's datacontenttype and dataschema.
//
// It is a module of its own (github.com/heraldkit/herald/protobuf) so that
// the library's go.mod does not require google.golang.org/protobuf:
// through Go's minimal version selection a requirement there would raise
// the protobuf version of every program that uses Herald, Protobuf or not.
//
// The message type is not carried by a plain message (application/protobuf
// has no parameter for it): the consumer names it as T. A CloudEvent
// carries it in dataschema (SchemaPrefix + the full message name), which
// EventData checks.
package protobuf

import (
	"context"
	"errors"
	"fmt"
	"mime"

	"google.golang.org/protobuf/proto"

	"github.com/heraldkit/herald"
)

// ContentType is the media type of a Protocol Buffers payload (IANA
// application/protobuf, binary wire format).
const ContentType = "application/protobuf"

// isProtobuf reports whether a content type is Protocol Buffers' binary
// format: application/protobuf or its deprecated aliases, in any case,
// with any parameters. A parameter that does not parse (an unquoted '/'
// in proto=type.googleapis.com/x.Y) does not hide the media type, which
// mime.ParseMediaType returns with ErrInvalidMediaParameter: reads are
// lenient.
func isProtobuf(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if errors.Is(err, mime.ErrInvalidMediaParameter) {
		err = nil
	}
	return err == nil && (mt == ContentType || mt == "application/x-protobuf" || mt == "application/x-protobuffer")
}

// NewMessage returns a message whose payload is m in the Protocol Buffers
// binary format, with a content-type header of application/protobuf.
func NewMessage(m proto.Message) (*herald.Message, error) {
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("herald: encode %T as Protocol Buffers: %w", m, err)
	}
	msg := herald.NewMessage(b)
	msg.Metadata.Set(herald.ContentTypeHeader, ContentType)
	return msg, nil
}

// Publish encodes m and publishes it to topic. A non-empty key sets the
// message's ordering key.
func Publish(ctx context.Context, p herald.Publisher, topic, key string, m proto.Message) error {
	msg, err := NewMessage(m)
	if err != nil {
		return err
	}
	if key != "" {
		herald.SetKey(msg, key)
	}
	return p.Publish(ctx, topic, msg)
}

// Decode decodes a Protocol Buffers payload into a new T (a generated
// message pointer type, such as *orderpb.Order). A message whose
// content-type header is set to something else, or whose payload does not
// decode, is a Permanent error: retrying cannot fix it. A message without
// a content type (from kcat, say) is decoded.
func Decode[T proto.Message](m *herald.Message) (T, error) {
	v := newMessage[T]()
	if ct := m.Metadata.Get(herald.ContentTypeHeader); ct != "" && !isProtobuf(ct) {
		return v, herald.Permanent(fmt.Errorf("herald: message %s: content type %q is not %s: cannot decode into %T", m.UUID, ct, ContentType, v))
	}
	if err := proto.Unmarshal(m.Payload, v); err != nil {
		return v, herald.Permanent(fmt.Errorf("herald: message %s: decode Protocol Buffers into %T: %w", m.UUID, v, err))
	}
	return v, nil
}

// Handler returns a herald.Handler that decodes each payload into a T and
// calls fn. A payload that does not decode (or says another content type)
// is returned as a Permanent error (dead-lettered, not retried, by the
// middleware).
func Handler[T proto.Message](fn func(ctx context.Context, v T, m *herald.Message) error) herald.Handler {
	return func(ctx context.Context, m *herald.Message) error {
		v, err := Decode[T](m)
		if err != nil {
			return err
		}
		return fn(ctx, v, m)
	}
}

// newMessage returns a new, empty T: generated message types answer
// ProtoReflect on a nil pointer.
func newMessage[T proto.Message]() T {
	var zero T
	return zero.ProtoReflect().New().Interface().(T)
}
