package natsx

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
)

// TestFillScratchSameHeaders: a message filled with the scratch of its
// entry has the headers of one filled without, whether they fit in the
// scratch or not (much metadata, a long subject, an ID that travels
// encoded), and refilling the scratch does not change the first message.
func TestFillScratchSameHeaders(t *testing.T) {
	long := "orders." + strings.Repeat("x", 120)
	many := message.Metadata{}
	for i := range 6 {
		many["k"+string(rune('a'+i))] = "v"
	}
	cases := []struct {
		name, subject, id string
		md                message.Metadata
	}{
		{"no metadata", "orders.created", "01JABCDEFGHJKMNPQRSTVWXYZ0", nil},
		{"two entries", "orders.created", "01JABCDEFGHJKMNPQRSTVWXYZ0", message.Metadata{"a": "1", "bad key": "x\r\n"}},
		{"six entries", "orders.created", "01JABCDEFGHJKMNPQRSTVWXYZ0", many},
		{"long subject", long, "01JABCDEFGHJKMNPQRSTVWXYZ0", nil},
		{"encoded id", "orders.created", " id with blanks ", nil},
		{"no id", "orders.created", "", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := message.NewMessage(c.id, []byte("x"))
			m.Metadata = c.md
			var want, got nats.Msg
			Marshaler{}.fill(&want, c.subject, m, nil)
			var sc fillScratch
			Marshaler{}.fill(&got, c.subject, m, &sc)
			if got.Subject != want.Subject || !maps.EqualFunc(got.Header, want.Header, slices.Equal) {
				t.Fatalf("with scratch %v %v, without %v %v", got.Subject, got.Header, want.Subject, want.Header)
			}
			if c.id != "" && got.Header.Get(nats.MsgIdHdr) != DedupID(c.subject, c.id) {
				t.Fatalf("Nats-Msg-Id %q, want %q", got.Header.Get(nats.MsgIdHdr), DedupID(c.subject, c.id))
			}
			before := maps.Clone(got.Header)
			var other nats.Msg
			Marshaler{}.fill(&other, "other.subject", message.NewMessage("01JZZZZZZZZZZZZZZZZZZZZZZZ", nil), &fillScratch{})
			if !maps.EqualFunc(got.Header, before, slices.Equal) {
				t.Fatalf("headers changed by another fill: %v, were %v", got.Header, before)
			}
		})
	}
}

// TestFillScratchAllocs: with the entry's scratch, a message without
// metadata costs two allocations less (the values' array and the
// DedupID) than without it.
func TestFillScratchAllocs(t *testing.T) {
	m := message.NewMessage("01JABCDEFGHJKMNPQRSTVWXYZ0", []byte("x"))
	sink := make([]*pubEntry, 0, 2)
	run := func(scratch bool) float64 {
		return testing.AllocsPerRun(200, func() {
			e := &pubEntry{}
			e.nm = &e.msg
			var sc *fillScratch
			if scratch {
				sc = &e.scratch
			}
			Marshaler{}.fill(e.nm, "orders.created", m, sc)
			sink = append(sink[:0], e)
		})
	}
	without, with := run(false), run(true)
	if with > without-2 {
		t.Fatalf("allocations per fill: %v with the scratch, %v without: want 2 fewer", with, without)
	}
	t.Logf("allocations per entry and fill: %v with the scratch, %v without", with, without)
}
