package kafka

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heraldkit/herald"
)

// consumed is the record a consumer gets for rec as produced (no broker).
func consumed(rec *kgo.Record) *kgo.Record {
	c := *rec
	c.Headers = append([]kgo.RecordHeader(nil), rec.Headers...)
	return &c
}

// TestReservedMetadataEscaped (issue 18 item 5): a metadata entry named
// like the ID header, or starting with Herald-Enc-, is escaped, not
// dropped, and comes back exactly; the ID header still carries the ID.
func TestReservedMetadataEscaped(t *testing.T) {
	m := herald.NewMessage([]byte("x"))
	m.Metadata.Set(IDHeader, "users-own")
	m.Metadata.Set("Herald-Enc-like", "v")
	var rec kgo.Record
	fillRecord(&rec, nil, "t", m, time.Time{})
	ids := 0
	for _, h := range rec.Headers {
		if h.Key == IDHeader {
			ids++
			if string(h.Value) != m.UUID {
				t.Errorf("%s header %q; want the ID %s", IDHeader, h.Value, m.UUID)
			}
		}
		if h.Key == "Herald-Enc-like" {
			t.Errorf("header Herald-Enc-like sent as is; want it escaped")
		}
	}
	if ids != 1 || len(rec.Headers) != 3 {
		t.Errorf("headers %v; want the ID header once and two escaped entries", rec.Headers)
	}
	got := newMessage(consumed(&rec))
	if got.UUID != m.UUID || got.Metadata.Get(IDHeader) != "users-own" || got.Metadata.Get("Herald-Enc-like") != "v" {
		t.Errorf("id %q metadata %v", got.UUID, got.Metadata)
	}
}

// TestDuplicateHeadersJoined (issue 18 item 5): a record with several
// headers of one key (a foreign producer's) gives one metadata entry,
// the values joined with ", " in order.
func TestDuplicateHeadersJoined(t *testing.T) {
	rec := &kgo.Record{Topic: "t", Value: []byte("v"), Headers: []kgo.RecordHeader{
		{Key: "tag", Value: []byte("a")}, {Key: "other", Value: []byte("o")}, {Key: "tag", Value: []byte("b")}, {Key: "tag", Value: []byte("c")}}}
	got := newMessage(rec)
	if got.Metadata.Get("tag") != "a, b, c" || got.Metadata.Get("other") != "o" {
		t.Errorf("metadata %v; want tag \"a, b, c\"", got.Metadata)
	}
}

// TestTimestampProperty (issue 18 item 3): Properties.Time is the record
// timestamp; the zero time leaves it to the producer (the produce time).
func TestTimestampProperty(t *testing.T) {
	m := herald.NewMessage(nil)
	ts := time.Date(2026, 12, 7, 13, 40, 0, 123e6, time.UTC)
	var rec kgo.Record
	fillRecord(&rec, nil, "t", m, ts)
	if !rec.Timestamp.Equal(ts) {
		t.Errorf("record timestamp %v; want %v", rec.Timestamp, ts)
	}
	rec = kgo.Record{}
	fillRecord(&rec, nil, "t", m, time.Time{})
	if !rec.Timestamp.IsZero() {
		t.Errorf("record timestamp %v without Properties.Time; want zero (franz-go stamps it)", rec.Timestamp)
	}
}

// TestForeignRecordIDStable (issue 18 item 4): a record without the ID
// header gets <topic>/<partition>/<offset>, the same each time it is
// consumed again.
func TestForeignRecordIDStable(t *testing.T) {
	rec := &kgo.Record{Topic: "orders", Partition: 2, Offset: 41, Value: []byte("v")}
	a, b := newMessage(rec), newMessage(consumed(rec))
	if a.UUID != "orders/2/41" || b.UUID != a.UUID {
		t.Errorf("ids %q, %q; want orders/2/41 twice", a.UUID, b.UUID)
	}
}
