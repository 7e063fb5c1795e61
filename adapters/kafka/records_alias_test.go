package kafka

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heraldkit/herald"
)

// TestConsumedMessageAppendKeepsMetadata: a consumed message's ID, key
// and header values share the fetch buffer, where a record's headers
// follow its value; appending to the payload must not overwrite them.
func TestConsumedMessageAppendKeepsMetadata(t *testing.T) {
	buf := []byte("KEYVALUEID-1hdr-value")
	rec := &kgo.Record{Topic: "t", Key: buf[0:3], Value: buf[3:8],
		Headers: []kgo.RecordHeader{{Key: IDHeader, Value: buf[8:12]}, {Key: "h", Value: buf[12:21]}}}
	msg := newMessage(rec)
	msg.Payload = append(msg.Payload, "XXXX"...) // fits in the buffer after the value
	if msg.UUID != "ID-1" || msg.Metadata.Get("h") != "hdr-value" || msg.Metadata.Get(herald.KeyHeader) != "KEY" {
		t.Errorf("after an append to the payload: ID %q, h %q, key %q; want ID-1, hdr-value, KEY", msg.UUID, msg.Metadata.Get("h"), msg.Metadata.Get(herald.KeyHeader))
	}
	if string(buf) != "KEYVALUEID-1hdr-value" {
		t.Errorf("the fetch buffer was overwritten: %q", buf)
	}
}
