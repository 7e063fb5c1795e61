package kafka

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestForeignDirectiveHeaderForwards (issue 18, review finding 5): a
// record from another producer may carry a header named kafka-timestamp
// (before herald.Properties, that metadata entry was the record timestamp
// on publish). Consumed, it is a metadata entry like any other, and a
// copy published again (DeadLetter's copy, a bridge) keeps it as a header
// and its value, whatever the value: it sets no record timestamp.
func TestForeignDirectiveHeaderForwards(t *testing.T) {
	for _, v := range []string{"1700000000000", "2020-01-01T00:00:00Z"} {
		in := &kgo.Record{Topic: "orders", Partition: 0, Offset: 7, Value: []byte("x"),
			Headers: []kgo.RecordHeader{{Key: "kafka-timestamp", Value: []byte(v)}}}
		m := newMessage(in)
		if got := m.Metadata["kafka-timestamp"]; got != v {
			t.Fatalf("consumed metadata kafka-timestamp = %q, want %q", got, v)
		}
		var out kgo.Record
		fillRecord(&out, nil, "orders.dlq", m.Copy(), time.Time{})
		if !out.Timestamp.IsZero() {
			t.Errorf("%q: the forwarded copy's record timestamp is %v; want it left to the producer", v, out.Timestamp)
		}
		if got := newMessage(consumed(&out)).Metadata["kafka-timestamp"]; got != v {
			t.Errorf("%q: the forwarded copy's kafka-timestamp header is %q; want it kept", v, got)
		}
	}
}
