package protobuf_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/cloudevents"
	"github.com/heraldkit/herald/protobuf"
	"github.com/heraldkit/herald/protobuf/internal/orderpb"
)

// TestContentTypeForms (attack18b): a Content-Type's type and subtype are
// case-insensitive and may carry parameters (RFC 9110 8.3.1), and a
// reader is lenient: a Protocol Buffers payload labelled in any of these
// forms decodes, in Decode and in EventData, while another media type is
// refused. A parameter value that is not an RFC 2045 token and not quoted
// (proto=type.googleapis.com/x.Y, the '/' unquoted) makes Go's
// mime.ParseMediaType fail with ErrInvalidMediaParameter although the
// media type itself is clear: before, that payload was refused as "not
// application/protobuf", a Permanent error, and dead-lettered.
func TestContentTypeForms(t *testing.T) {
	b, err := proto.Marshal(order())
	if err != nil {
		t.Fatal(err)
	}
	for _, ct := range []string{
		"Application/Protobuf",
		"APPLICATION/X-PROTOBUF",
		"application/protobuf; charset=binary",
		"application/x-protobuf;messageType=herald.example.v1.Order",
		"application/protobuf; proto=type.googleapis.com/herald.example.v1.Order",
		" application/protobuf ",
	} {
		m := herald.NewMessage(b)
		m.Metadata.Set(herald.ContentTypeHeader, ct)
		if got, err := protobuf.Decode[*orderpb.Order](m); err != nil || got.GetId() != "order-1" {
			t.Errorf("Decode with content type %q: %v, %v; want the order", ct, got, err)
		}
		ev := cloudevents.Event{ID: "1", Source: "/s", Type: "t", DataContentType: ct, Data: b}
		if got, err := protobuf.EventData[*orderpb.Order](ev); err != nil || got.GetId() != "order-1" {
			t.Errorf("EventData with datacontenttype %q: %v, %v; want the order", ct, got, err)
		}
	}
	for _, ct := range []string{"application/json", "application/protobuf+json", "text/plain; x=application/protobuf", "application/protobufx"} {
		m := herald.NewMessage(b)
		m.Metadata.Set(herald.ContentTypeHeader, ct)
		if _, err := protobuf.Decode[*orderpb.Order](m); !herald.IsPermanent(err) {
			t.Errorf("Decode with content type %q: %v; want a Permanent refusal", ct, err)
		}
	}
}
