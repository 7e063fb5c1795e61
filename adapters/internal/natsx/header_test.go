package natsx

import (
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
)

// loopback returns a function that sends a NATS message through a real
// in-process server and returns what a subscriber receives.
func loopback(t testing.TB) func(*nats.Msg) *nats.Msg {
	nc := inProcess(t, false)
	sub, err := nc.SubscribeSync("loop")
	if err != nil {
		t.Fatal(err)
	}
	return func(m *nats.Msg) *nats.Msg {
		if err := nc.PublishMsg(m); err != nil {
			t.Fatalf("publish: %v", err)
		}
		got, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		return got
	}
}

func roundTrip(t testing.TB, send func(*nats.Msg) *nats.Msg, id string, md map[string]string) {
	t.Helper()
	msg := message.NewMessage(id, []byte("p"))
	for k, v := range md {
		msg.Metadata.Set(k, v)
	}
	nm, err := Marshaler{}.Marshal("loop", msg)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := Marshaler{}.Unmarshal(send(nm))
	if id != "" && got.UUID != id {
		t.Errorf("id %q, want %q", got.UUID, id)
	}
	if len(got.Metadata) != len(md) {
		t.Errorf("metadata %q, want %q", got.Metadata, md)
	}
	for k, v := range md {
		if g, ok := got.Metadata[k]; !ok || g != v {
			t.Errorf("metadata[%q] = %q, want %q", k, g, v)
		}
	}
}

func TestHeaderRoundTrip(t *testing.T) {
	send := loopback(t)
	roundTrip(t, send, "01ID", map[string]string{
		"plain":                   "value",
		"herald-key":              "order-1",
		"unicode-ключ":            "значение ✓",
		"with space":              "a b",
		"colon:key":               "k: v",
		"":                        "empty key",
		"empty":                   "",
		"blank":                   " ",
		"newline":                 "a\nb\r\nc",
		"tab":                     "\tx\t",
		"invalid-utf8":            "\xff\xfe",
		"Nats-Msg-Id":             "user",
		"_watermill_message_uuid": "user",
		"Herald-Enc-abc":          "user",
		"Nats-Expected-Stream":    "user",
	})
	roundTrip(t, send, "id with\nnewline", map[string]string{"a": "b"})
}

func FuzzHeaderRoundTrip(f *testing.F) {
	f.Add("id", "key", "value")
	f.Add("", "k:v", "line\nline")
	f.Add("x y", " ", "\r")
	f.Add("Herald-Enc-", "Herald-Enc-", "Herald-Enc-")
	send := loopback(f)
	f.Fuzz(func(t *testing.T, id, k, v string) {
		roundTrip(t, send, id, map[string]string{k: v})
	})
}

func TestSubjectMatches(t *testing.T) {
	for _, tc := range []struct {
		pattern, subject string
		want             bool
	}{
		{"a.b", "a.b", true},
		{"a.*", "a.b", true},
		{"a.*", "a.b.c", false},
		{"a.>", "a.b.c", true},
		{"a.>", "a", false},
		{">", "a", true},
		{"a.b", "a.c", false},
		{"*.b", "a.b", true},
	} {
		if got := subjectMatches(tc.pattern, tc.subject); got != tc.want {
			t.Errorf("subjectMatches(%q, %q) = %v", tc.pattern, tc.subject, got)
		}
	}
}

// The de-duplication ID differs for the same message on two subjects and
// for (subject, id) pairs that share their concatenation.
func TestDedupIDInjective(t *testing.T) {
	seen := map[string][2]string{}
	for _, p := range [][2]string{
		{"a", "x"}, {"a.dlq", "x"}, {"a", "x a"}, {"a x", "a"}, {"x", "a a"},
		{"a", EncodedPrefix + "eA"}, {"a", "\nx"}, {"a", ""}, {"a.b", "c"}, {"a", "b.c"},
	} {
		if p[0] == "a x" {
			continue // not a valid subject
		}
		d := DedupID(p[0], p[1])
		if q, dup := seen[d]; dup {
			t.Errorf("DedupID(%q, %q) = DedupID(%q, %q) = %q", p[0], p[1], q[0], q[1], d)
		}
		seen[d] = p
	}
}

// The ID comes from the UUID header even though Nats-Msg-Id also names
// the subject; a foreign message's Nats-Msg-Id is its ID.
func TestIDFromHeaders(t *testing.T) {
	send := loopback(t)
	roundTrip(t, send, "id-1", nil)
	got, _ := Marshaler{}.Unmarshal(send(&nats.Msg{Subject: "loop", Header: nats.Header{nats.MsgIdHdr: {"foreign"}}, Data: []byte("x")}))
	if got.UUID != "foreign" {
		t.Errorf("id %q, want the Nats-Msg-Id %q", got.UUID, "foreign")
	}
}
