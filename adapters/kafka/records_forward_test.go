package kafka

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestForeignDirectiveHeaderForwards: a record from another producer may
// carry a header named kafka-timestamp (Herald never sends one: on
// publish that metadata entry is the record timestamp). Consumed, it is a
// metadata entry like any other, and a copy published again (DeadLetter's
// copy, a bridge) must be written and keep the header, as every other
// header is kept (reserved.go: "a publish that fails over a header name
// would lose that message"). On contract a value that is not RFC 3339
// fails the publish (the dead letter is never written) and an RFC 3339
// one silently becomes the copy's record timestamp, the header gone.
func TestForeignDirectiveHeaderForwards(t *testing.T) {
	for _, v := range []string{"1700000000000", "2020-01-01T00:00:00Z"} {
		in := &kgo.Record{Topic: "orders", Partition: 0, Offset: 7, Value: []byte("x"),
			Headers: []kgo.RecordHeader{{Key: TimestampHeader, Value: []byte(v)}}}
		m := newMessage(in)
		if got := m.Metadata[TimestampHeader]; got != v {
			t.Fatalf("consumed metadata %s = %q, want %q", TimestampHeader, got, v)
		}
		var out kgo.Record
		if err := fillRecord(&out, nil, "orders.dlq", m.Copy()); err != nil {
			t.Errorf("%q: forwarding the consumed record fails: %v", v, err)
			continue
		}
		if got := newMessage(consumed(&out)).Metadata[TimestampHeader]; got != v {
			t.Errorf("%q: the forwarded copy's %s header is %q; want it kept", v, TimestampHeader, got)
		}
	}
}
