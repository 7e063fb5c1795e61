package heraldtest

import (
	"testing"

	"github.com/heraldkit/herald"
)

// DecodeAll decodes each message's JSON payload into a T with
// herald.Decode, in order; a payload that does not decode fails t.
func DecodeAll[T any](t testing.TB, msgs []*herald.Message) []T {
	t.Helper()
	out := make([]T, 0, len(msgs))
	for _, m := range msgs {
		v, err := herald.Decode[T](m)
		if err != nil {
			t.Fatalf("heraldtest: %v", err)
		}
		out = append(out, v)
	}
	return out
}

// PublishedJSON is the JSON payloads of the messages published to topic,
// decoded into T (DecodeAll of Published).
func PublishedJSON[T any](t testing.TB, h *Harness, topic string) []T {
	t.Helper()
	return DecodeAll[T](t, h.Published(topic))
}

// HandledJSON is the JSON payloads of the messages of topic that group
// handled, decoded into T (DecodeAll of Handled).
func HandledJSON[T any](t testing.TB, h *Harness, topic, group string) []T {
	t.Helper()
	return DecodeAll[T](t, h.Handled(topic, group))
}
