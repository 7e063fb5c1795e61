package cloudevents

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/heraldkit/herald"
)

// rabbitAppProps is an x-amqp-1.0-app-properties header as RabbitMQ
// 3.10.8's AMQP 1.0 plugin handed it to a 0-9-1 consumer, for a go-amqp
// message with application-properties cloudEvents:priority int64(5),
// cloudEvents:urgent true, cloudEvents_source "/src",
// cloudEvents:specversion "1.0", cloudEvents:id "e1" and cloudEvents:time
// 2026-12-07T13:40:00.123Z (captured on a private node, see
// /work/shared/notes/brokers.md).
const rabbitAppProps = "005374d1000000980000000ca114636c6f75644576656e74733a7072696f726974795505a112636c6f75644576656e74733a757267656e7441a112636c6f75644576656e74735f736f75726365a1042f737263a117636c6f75644576656e74733a7370656376657273696f6ea103312e30a10e636c6f75644576656e74733a6964a1026531a110636c6f75644576656e74733a74696d6583000001a250bb93fb"

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// amqpMap32 encodes an application-properties section: the descriptor
// and a map32 of the given already-encoded elements.
func amqpMap32(elems ...[]byte) []byte {
	var body []byte
	for _, e := range elems {
		body = append(body, e...)
	}
	out := []byte{0x00, 0x53, 0x74, 0xd1}
	out = binary.BigEndian.AppendUint32(out, uint32(4+len(body)))
	out = binary.BigEndian.AppendUint32(out, uint32(len(elems)))
	return append(out, body...)
}

func str8(s string) []byte { return append([]byte{0xa1, byte(len(s))}, s...) }

func TestDecodeAMQP10AppPropertiesFromRabbitMQ(t *testing.T) {
	got, err := decodeAMQP10AppProperties(mustHex(t, rabbitAppProps))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"cloudEvents:priority": "5", "cloudEvents:urgent": "true", "cloudEvents_source": "/src",
		"cloudEvents:specversion": "1.0", "cloudEvents:id": "e1", "cloudEvents:time": "2026-12-07T13:40:00.123Z",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded %v, want %v", got, want)
	}
}

func TestDecodeAMQP10AppPropertiesTypes(t *testing.T) {
	ts := binary.BigEndian.AppendUint64([]byte{0x83}, uint64(time.Date(2026, 12, 7, 13, 40, 0, 5e6, time.UTC).UnixMilli()))
	b := amqpMap32(
		str8("str"), str8("v"),
		str8("sym"), []byte{0xa3, 2, 'o', 'k'},
		[]byte{0xa3, 4, 'k', 's', 'y', 'm'}, []byte{0xb1, 0, 0, 0, 1, 'x'},
		str8("t"), []byte{0x41}, str8("f"), []byte{0x42}, str8("b1"), []byte{0x56, 1}, str8("b0"), []byte{0x56, 0},
		str8("ul0"), []byte{0x44}, str8("sul"), []byte{0x53, 200}, str8("ul"), binary.BigEndian.AppendUint64([]byte{0x80}, 1<<63),
		str8("u0"), []byte{0x43}, str8("su"), []byte{0x52, 7}, str8("u"), []byte{0x70, 0xff, 0xff, 0xff, 0xff},
		str8("sl"), []byte{0x55, 0xfb}, str8("l"), binary.BigEndian.AppendUint64([]byte{0x81}, ^uint64(0)),
		str8("si"), []byte{0x54, 0x7f}, str8("i"), []byte{0x71, 0x80, 0, 0, 0},
		str8("ts"), ts,
		str8("bin"), []byte{0xa0, 3, 1, 2, 3}, str8("bin32"), []byte{0xb0, 0, 0, 0, 0},
		str8("nil"), []byte{0x40},
	)
	got, err := decodeAMQP10AppProperties(b)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"str": "v", "sym": "ok", "ksym": "x", "t": "true", "f": "false", "b1": "true", "b0": "false",
		"ul0": "0", "sul": "200", "ul": "9223372036854775808", "u0": "0", "su": "7", "u": "4294967295",
		"sl": "-5", "l": "-1", "si": "127", "i": "-2147483648", "ts": "2026-12-07T13:40:00.005Z",
		"bin": "AQID", "bin32": "",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded\n%v\nwant\n%v", got, want)
	}
	if got, err := decodeAMQP10AppProperties([]byte{0x00, 0x53, 0x74, 0x40}); err != nil || len(got) != 0 {
		t.Errorf("null section: %v, %v; want empty", got, err)
	}
	if got, err := decodeAMQP10AppProperties([]byte{0x00, 0x53, 0x74, 0xc1, 3, 2, 0xa1, 0}); err == nil {
		// map8 of size 3 holding count 2 and a one-byte-short pair
		t.Errorf("short map8 decoded as %v", got)
	}
	if got, err := decodeAMQP10AppProperties([]byte{0x00, 0x53, 0x74, 0xc1, 5, 2, 0xa1, 1, 'k', 0x41}); err != nil || got["k"] != "true" {
		t.Errorf("map8: %v, %v", got, err)
	}
}

func TestDecodeAMQP10AppPropertiesErrors(t *testing.T) {
	good := mustHex(t, rabbitAppProps)
	for _, c := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "descriptor 00 53 74"},
		{"other section", append([]byte{0x00, 0x53, 0x73}, good[3:]...), "descriptor 00 53 74"},
		{"list", []byte{0x00, 0x53, 0x74, 0x45}, "type code 0x45 is not a map"},
		{"float value", amqpMap32(str8("k"), []byte{0x72, 0, 0, 0, 0}), "type code 0x72 is not supported"},
		{"uuid value", amqpMap32(str8("k"), append([]byte{0x98}, make([]byte, 16)...)), "type code 0x98 is not supported"},
		{"nested map", amqpMap32(str8("k"), []byte{0xc1, 1, 0}), "type code 0xc1 is not supported"},
		{"list value", amqpMap32(str8("k"), []byte{0x45}), "type code 0x45 is not supported"},
		{"described value", amqpMap32(str8("k"), []byte{0x00, 0x53, 0x01, 0x41}), "type code 0x00 is not supported"},
		{"integer key", amqpMap32([]byte{0x54, 1}, str8("v")), "a key that is not a string or symbol"},
		{"duplicate key", amqpMap32(str8("k"), str8("a"), str8("k"), str8("b")), `duplicate key "k"`},
		{"invalid UTF-8", amqpMap32(str8("k"), []byte{0xa1, 2, 0xc3, 0x28}), "not valid UTF-8"},
		{"bad boolean", amqpMap32(str8("k"), []byte{0x56, 2}), "boolean that is not 0 or 1"},
		{"odd count", []byte{0x00, 0x53, 0x74, 0xc1, 4, 1, 0xa1, 1, 'k'}, "odd element count"},
		{"trailing bytes", append(append([]byte{}, good...), 0x40), "1 bytes after the section"},
		{"size past the end", []byte{0x00, 0x53, 0x74, 0xd1, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, "past the end"},
		{"size short of the elements", []byte{0x00, 0x53, 0x74, 0xc1, 1, 2, 0xa1, 1, 'k', 0x41}, "its size says"},
		{"too many entries", []byte{0x00, 0x53, 0x74, 0xd1, 0, 0, 0, 4, 0, 0, 0x10, 0}, "over the limit of 1024 entries"},
		{"string past the end", amqpMap32(str8("k"), []byte{0xb1, 0x7f, 0xff, 0xff, 0xff}), "past the end"},
	} {
		got, err := decodeAMQP10AppProperties(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), amqp10AppPropertiesHeader) {
			t.Errorf("%s: %v, %v; want an error naming the header and saying %q", c.name, got, err, c.want)
		}
	}
	// Every truncation of a valid section is an error, never a panic.
	for n := range len(good) {
		if got, err := decodeAMQP10AppProperties(good[:n]); err == nil {
			t.Errorf("truncated to %d bytes: decoded %v", n, got)
		}
	}
}

// TestFromMessageAMQP10AppProperties: a binary-mode event an AMQP 1.0
// client sent through RabbitMQ 3.10 (attributes only in the
// x-amqp-1.0-app-properties header, the datacontenttype in content-type)
// is read with every attribute and extension; a header that does not
// decode is an error naming it; one without a CloudEvents specversion
// leaves the message not a CloudEvent.
func TestFromMessageAMQP10AppProperties(t *testing.T) {
	props := amqpMap32(
		str8("cloudEvents:specversion"), str8("1.0"), str8("cloudEvents:id"), str8("e1"),
		str8("cloudEvents:source"), str8("/src"), str8("cloudEvents:type"), str8("com.example.t"),
		str8("cloudEvents:subject"), str8("orders/1 €"), str8("cloudEvents:dataschema"), str8("https://example.com/s.json"),
		str8("cloudEvents:time"), binary.BigEndian.AppendUint64([]byte{0x83}, uint64(time.Date(2026, 12, 7, 13, 40, 0, 123e6, time.UTC).UnixMilli())),
		str8("cloudEvents:priority"), []byte{0x55, 5}, str8("cloudEvents:urgent"), []byte{0x41},
	)
	m := herald.NewMessage([]byte(`{"order":1}`))
	m.Metadata.Set(amqp10AppPropertiesHeader, string(props))
	m.Metadata.Set("content-type", "application/json")
	m.Metadata.Set("amqp-type", "binary")
	ev, err := FromMessage(m)
	if err != nil {
		t.Fatal(err)
	}
	want := Event{SpecVersion: "1.0", ID: "e1", Source: "/src", Type: "com.example.t", Subject: "orders/1 €",
		Time: time.Date(2026, 12, 7, 13, 40, 0, 123e6, time.UTC), DataContentType: "application/json",
		DataSchema: "https://example.com/s.json", Extensions: map[string]any{"priority": "5", "urgent": "true"}, Data: []byte(`{"order":1}`)}
	if !ev.Time.Equal(want.Time) {
		t.Errorf("time %v, want %v", ev.Time, want.Time)
	}
	ev.Time = want.Time
	if !reflect.DeepEqual(ev, want) {
		t.Errorf("read\n%+v\nwant\n%+v", ev, want)
	}

	m.Metadata.Set(amqp10AppPropertiesHeader, string(amqpMap32(str8("cloudEvents:specversion"), []byte{0x72, 0, 0, 0, 0})))
	if _, err := FromMessage(m); err == nil || !strings.Contains(err.Error(), amqp10AppPropertiesHeader) {
		t.Errorf("undecodable header: %v, want an error naming %s", err, amqp10AppPropertiesHeader)
	}
	m.Metadata.Set(amqp10AppPropertiesHeader, string(amqpMap32(str8("k"), str8("v"))))
	var verr *ValidationError
	if _, err := FromMessage(m); err == nil || !errors.As(err, &verr) || verr.Attribute != "specversion" {
		t.Errorf("no CloudEvents properties: %v, want the specversion-missing ValidationError", err)
	}
}

// FuzzDecodeAMQP10AppProperties: any input decodes or returns an error
// naming the header, never panics, and never yields more entries than
// the limit or than the input could hold.
func FuzzDecodeAMQP10AppProperties(f *testing.F) {
	f.Add(mustHex(f, rabbitAppProps))
	f.Add(amqpMap32(str8("k"), []byte{0xa0, 1, 0}, str8("t"), []byte{0x83, 0, 0, 0, 0, 0, 0, 0, 1}))
	f.Add([]byte{0x00, 0x53, 0x74, 0xc1, 5, 2, 0xa1, 1, 'k', 0x41})
	f.Add([]byte{0x00, 0x53, 0x74, 0x40})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeAMQP10AppProperties(b)
		if err != nil {
			if !strings.Contains(err.Error(), amqp10AppPropertiesHeader) {
				t.Fatalf("error does not name the header: %v", err)
			}
			return
		}
		if len(got) > amqp10MaxEntries || len(got) > len(b)/2 {
			t.Fatalf("%d entries from %d bytes", len(got), len(b))
		}
	})
}
