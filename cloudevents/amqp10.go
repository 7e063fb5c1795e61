package cloudevents

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/heraldkit/herald"
)

// amqp10AppPropertiesHeader is the AMQP 0-9-1 header in which RabbitMQ
// 3.10 to 3.12's rabbitmq_amqp1_0 plugin hands a message an AMQP 1.0
// client sent to 0-9-1 consumers (Herald among them): the message's whole
// application-properties section, AMQP 1.0-encoded, where a CloudEvents
// AMQP 1.0 client (sdk-go's protocol/amqp) puts the binary-mode
// attributes. FromMessage decodes it.
const amqp10AppPropertiesHeader = "x-amqp-1.0-app-properties"

// amqp10MaxEntries bounds the entries decoded from one section.
const amqp10MaxEntries = 1024

// readAMQP10 reads the binary-mode event in m's x-amqp-1.0-app-properties
// header (raw). ok is false when the section holds no cloudEvents: or
// cloudEvents_ specversion (not a binary-mode CloudEvent).
func readAMQP10(m *herald.Message, raw, contentType string) (ev Event, ok bool, err error) {
	props, err := decodeAMQP10AppProperties([]byte(raw))
	if err != nil {
		return Event{}, true, err
	}
	for _, prefix := range []string{"cloudevents:", "cloudevents_"} {
		for k := range props {
			if strings.EqualFold(k, prefix+"specversion") {
				attrs := &herald.Message{UUID: m.UUID, Payload: m.Payload, Metadata: props}
				ev, err := readBinary(attrs, prefix, false, contentType)
				return ev, true, err
			}
		}
	}
	return Event{}, false, nil
}

// decodeAMQP10AppProperties decodes an AMQP 1.0 application-properties
// section (descriptor 0x00 0x53 0x74, then a map or null) into its keys
// (strings or symbols) and their values in the canonical CloudEvents
// string form: strings and symbols as they are, booleans "true"/"false",
// integers in decimal, timestamps (milliseconds) as RFC 3339 in UTC,
// binary as base64. Null values are left out. Any other type, a
// truncated or oversized section, invalid UTF-8 or a duplicate key is an
// error naming the header, the byte offset and what is allowed.
func decodeAMQP10AppProperties(b []byte) (map[string]string, error) {
	d := amqp10Decoder{b: b}
	if len(b) < 3 || b[0] != 0x00 || b[1] != 0x53 || b[2] != 0x74 {
		return nil, d.errorf("does not start with the application-properties descriptor 00 53 74")
	}
	d.off = 3
	code, err := d.byte()
	if err != nil {
		return nil, err
	}
	if code == 0x40 { // null: an empty section
		return map[string]string{}, d.end()
	}
	var count, end int
	switch code {
	case 0xc1: // map8: size, count
		size, err := d.uint(1)
		if err != nil {
			return nil, err
		}
		if size > uint64(len(d.b)-d.off) {
			return nil, d.errorf("map size %d is past the end", size)
		}
		end = d.off + int(size)
		n, err := d.uint(1)
		if err != nil {
			return nil, err
		}
		count = int(n)
	case 0xd1: // map32: size, count
		size, err := d.uint(4)
		if err != nil {
			return nil, err
		}
		if size > uint64(len(d.b)-d.off) {
			return nil, d.errorf("map size %d is past the end", size)
		}
		end = d.off + int(size)
		n, err := d.uint(4)
		if err != nil {
			return nil, err
		}
		if n > 2*amqp10MaxEntries {
			return nil, d.errorf("map of %d elements is over the limit of %d entries", n, amqp10MaxEntries)
		}
		count = int(n)
	default:
		return nil, d.errorf("type code 0x%02x is not a map (allowed: map8 0xc1, map32 0xd1, null 0x40)", code)
	}
	if count%2 != 0 {
		return nil, d.errorf("map has an odd element count %d", count)
	}
	props := make(map[string]string, count/2)
	for i := 0; i < count/2; i++ {
		at := d.off
		key, isKey, err := d.value()
		if err != nil {
			return nil, err
		}
		if !isKey {
			return nil, amqp10Error(at, "a key that is not a string or symbol")
		}
		if _, dup := props[key]; dup {
			return nil, amqp10Error(at, fmt.Sprintf("duplicate key %q", key))
		}
		val, _, err := d.value()
		if err != nil {
			return nil, err
		}
		if !d.null {
			props[key] = val
		}
	}
	if d.off != end {
		return nil, d.errorf("the map's elements end at byte %d, its size says %d", d.off, end)
	}
	return props, d.end()
}

// amqp10Decoder reads AMQP 1.0 primitive values from b.
type amqp10Decoder struct {
	b    []byte
	off  int
	null bool // the last value was null
}

func amqp10Error(off int, problem string) error {
	return fmt.Errorf("cloudevents: header %s: at byte %d: %s (allowed: string, symbol, boolean, (u)long, (u)int, timestamp, binary and null values under string keys)",
		amqp10AppPropertiesHeader, off, problem)
}

func (d *amqp10Decoder) errorf(format string, a ...any) error {
	return amqp10Error(d.off, fmt.Sprintf(format, a...))
}

func (d *amqp10Decoder) end() error {
	if d.off != len(d.b) {
		return d.errorf("%d bytes after the section", len(d.b)-d.off)
	}
	return nil
}

func (d *amqp10Decoder) take(n uint64) ([]byte, error) {
	if n > uint64(len(d.b)-d.off) {
		return nil, d.errorf("value of %d bytes is past the end (%d left)", n, len(d.b)-d.off)
	}
	v := d.b[d.off : d.off+int(n)]
	d.off += int(n)
	return v, nil
}

func (d *amqp10Decoder) byte() (byte, error) {
	v, err := d.take(1)
	if err != nil {
		return 0, err
	}
	return v[0], nil
}

// uint reads an n-byte (1, 4 or 8) big-endian unsigned integer.
func (d *amqp10Decoder) uint(n uint64) (uint64, error) {
	v, err := d.take(n)
	if err != nil {
		return 0, err
	}
	switch n {
	case 1:
		return uint64(v[0]), nil
	case 4:
		return uint64(binary.BigEndian.Uint32(v)), nil
	default:
		return binary.BigEndian.Uint64(v), nil
	}
}

// value reads one value in its canonical string form; isKey reports a
// string or symbol.
func (d *amqp10Decoder) value() (s string, isKey bool, err error) {
	d.null = false
	at := d.off
	code, err := d.byte()
	if err != nil {
		return "", false, err
	}
	var u uint64
	switch code {
	case 0x40: // null
		d.null = true
		return "", false, nil
	case 0x41, 0x42: // true, false
		return strconv.FormatBool(code == 0x41), false, nil
	case 0x56: // boolean
		if u, err = d.uint(1); err != nil || u > 1 {
			return "", false, amqp10Error(at, "a boolean that is not 0 or 1")
		}
		return strconv.FormatBool(u == 1), false, nil
	case 0x43, 0x44: // uint0, ulong0
		return "0", false, nil
	case 0x52, 0x53: // smalluint, smallulong
		u, err = d.uint(1)
		return strconv.FormatUint(u, 10), false, err
	case 0x70: // uint
		u, err = d.uint(4)
		return strconv.FormatUint(u, 10), false, err
	case 0x80: // ulong
		u, err = d.uint(8)
		return strconv.FormatUint(u, 10), false, err
	case 0x54, 0x55: // smallint, smalllong
		u, err = d.uint(1)
		return strconv.FormatInt(int64(int8(u)), 10), false, err
	case 0x71: // int
		u, err = d.uint(4)
		return strconv.FormatInt(int64(int32(u)), 10), false, err
	case 0x81: // long
		u, err = d.uint(8)
		return strconv.FormatInt(int64(u), 10), false, err
	case 0x83: // timestamp: milliseconds since the Unix epoch
		u, err = d.uint(8)
		return formatTime(time.UnixMilli(int64(u))), false, err
	case 0xa0, 0xb0: // vbin8, vbin32
		v, err := d.variable(code)
		return base64.StdEncoding.EncodeToString(v), false, err
	case 0xa1, 0xb1, 0xa3, 0xb3: // str8, str32, sym8, sym32
		v, err := d.variable(code)
		if err == nil && !utf8.Valid(v) {
			err = amqp10Error(at, "a string that is not valid UTF-8")
		}
		return string(v), true, err
	}
	return "", false, amqp10Error(at, fmt.Sprintf("type code 0x%02x is not supported", code))
}

// variable reads a variable-width value's bytes: a 1-byte length for the
// 0xaX codes, a 4-byte one for the 0xbX codes.
func (d *amqp10Decoder) variable(code byte) ([]byte, error) {
	width := uint64(1)
	if code&0xf0 == 0xb0 {
		width = 4
	}
	n, err := d.uint(width)
	if err != nil {
		return nil, err
	}
	return d.take(n)
}
