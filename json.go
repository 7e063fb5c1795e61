package herald

import (
	"context"
	"encoding/json"
	"fmt"
)

// ContentTypeHeader is the metadata key holding a payload's media type.
const ContentTypeHeader = "content-type"

// NewJSONMessage returns a message whose payload is v encoded as JSON, with
// a content-type header of application/json.
func NewJSONMessage(v any) (*Message, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("herald: encode %T as JSON: %w", v, err)
	}
	m := NewMessage(b)
	m.Metadata.Set(ContentTypeHeader, "application/json")
	return m, nil
}

// PublishJSON encodes v as JSON and publishes it to topic. A non-empty key
// sets the message's ordering key.
func PublishJSON(ctx context.Context, p Publisher, topic, key string, v any) error {
	m, err := NewJSONMessage(v)
	if err != nil {
		return err
	}
	if key != "" {
		SetKey(m, key)
	}
	return p.Publish(ctx, topic, m)
}

// Decode decodes a JSON payload into a T. A payload that does not decode is
// a Permanent error: retrying cannot fix it.
func Decode[T any](m *Message) (T, error) {
	var v T
	if err := json.Unmarshal(m.Payload, &v); err != nil {
		return v, Permanent(fmt.Errorf("herald: message %s: decode JSON into %T: %w", m.UUID, v, err))
	}
	return v, nil
}

// JSON returns a Handler that decodes each payload into a T and calls
// fn. A payload that does not decode is returned as a Permanent error
// (dead-lettered, not retried, by the middleware).
func JSON[T any](fn func(ctx context.Context, v T, m *Message) error) Handler {
	return func(ctx context.Context, m *Message) error {
		v, err := Decode[T](m)
		if err != nil {
			return err
		}
		return fn(ctx, v, m)
	}
}
