package rabbitmq

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/internal/reserved"
	"github.com/heraldkit/herald/internal/wm"
)

// RedeliveredHeader is set to "true" in the metadata of a message the
// broker delivers again (after a nack or a lost channel). It is
// watermill-amqp's key, so its amqp.IsMessageRedelivered works too.
const RedeliveredHeader = "_watermill_redelivered"

// uuidHeader carries the message ID for watermill-amqp consumers (its
// DefaultMessageUUIDHeaderKey).
const uuidHeader = "_watermill_message_uuid"

// The metadata entries the consume side reports AMQP properties in, for
// the properties without a Herald header of their own (Delivery.Time
// gives the timestamp). They are reports, not directives: on publish they
// are ordinary headers, as every metadata entry is, so a consumed message
// published again (a dead letter, a bridge) keeps them as headers and
// sets no property by accident; herald.Properties (publisher.PublishWith)
// sets the properties.
const (
	// TypeHeader reports the AMQP type property (a message type name).
	TypeHeader = "amqp-type"
	// ExpirationHeader reports the AMQP expiration property: the
	// message's per-message TTL in milliseconds as it was published.
	ExpirationHeader = "amqp-expiration"
	// ContentEncodingHeader is the AMQP content_encoding property (as
	// herald.ContentTypeHeader is content_type), property and header both
	// ways.
	ContentEncodingHeader = "content-encoding"
)

// maxTTL is the longest AMQP expiration: 2^32-1 milliseconds.
const maxTTL = (1<<32 - 1) * time.Millisecond

// publishing maps a message to AMQP:
//
//   - every metadata entry is an AMQP header (herald.KeyHeader included),
//     so rabbitmqadmin and amqp-tools show them; those whose key the
//     driver reserves (_watermill_message_uuid, RabbitMQ's routing
//     headers CC and BCC, its dead-lettering record x-death,
//     x-first-death-* and x-last-death-*, which the delay tiers' own
//     would replace, and keys starting with Herald-Enc-) are escaped (see adapters/internal/reserved) and come
//     back exactly; RedeliveredHeader is not sent (it describes a
//     receipt: a forwarded copy, DeadLetter's, is not redelivered);
//   - herald.ContentTypeHeader, ContentEncodingHeader,
//     adapters.CorrelationHeader (middleware.CorrelationIDHeader) and
//     adapters.ReplyToHeader are also the content_type,
//     content_encoding, correlation_id and reply_to properties, which
//     other AMQP clients read;
//   - props are the timestamp (Time, whole seconds; zero: now),
//     expiration (TTL, rounded up to whole milliseconds) and type (Type)
//     properties;
//   - the message ID is the AMQP message_id property and, for
//     watermill-amqp consumers, the _watermill_message_uuid header;
//   - messages are persistent (delivery mode 2) and time-stamped.
//
// A TTL over 2^32-1 ms, or a Time before the Unix epoch, is a KindInvalid
// error. It reads m only (m may be
// published from several goroutines at once).
func publishing(m *herald.Message, props herald.Properties) (amqp.Publishing, error) {
	pub := amqp.Publishing{
		DeliveryMode: amqp.Persistent,
		MessageId:    m.UUID,
		Body:         m.Payload,
		Timestamp:    props.Time,
		Type:         props.Type,
	}
	if !props.Time.IsZero() && props.Time.Before(time.Unix(0, 0)) {
		// amqp091 writes uint64(t.Unix()): other clients would read a
		// time some 584 billion years ahead.
		return pub, withKind(herald.KindInvalid, fmt.Errorf("herald.Properties.Time %v is before the Unix epoch: the AMQP timestamp is unsigned seconds since 1970-01-01T00:00:00Z", props.Time))
	}
	if props.TTL > 0 {
		if props.TTL > maxTTL {
			return pub, withKind(herald.KindInvalid, fmt.Errorf("herald.Properties.TTL %v is over AMQP's longest expiration, 2^32-1 ms (%v)", props.TTL, maxTTL))
		}
		pub.Expiration = strconv.FormatInt(int64((props.TTL+time.Millisecond-1)/time.Millisecond), 10)
	}
	headers := make(amqp.Table, len(m.Metadata)+1)
	for k, v := range m.Metadata {
		switch {
		case k == RedeliveredHeader:
			continue
		case k == herald.ContentTypeHeader:
			pub.ContentType = v
		case k == ContentEncodingHeader:
			pub.ContentEncoding = v
		case k == adapters.CorrelationHeader:
			pub.CorrelationId = v
		case k == adapters.ReplyToHeader:
			pub.ReplyTo = v
		case k == uuidHeader || routingHeader(k) || deadLetterHeader(k) || strings.HasPrefix(k, reserved.Prefix):
			ek, ev := reserved.Escape(k, v)
			headers[ek] = ev
			continue
		}
		headers[k] = v
	}
	headers[uuidHeader] = m.UUID
	pub.Headers = headers
	if pub.Timestamp.IsZero() {
		pub.Timestamp = time.Now()
	}
	return pub, nil
}

// routingHeader reports whether RabbitMQ reads header k as
// sender-selected distribution: "CC" and "BCC" (exact case) are extra
// routing keys, BCC is removed before delivery, and a string value fails
// the publish with a channel error (unacceptable_type_in_header). A
// metadata entry so named is data: it travels escaped.
func routingHeader(k string) bool { return k == "CC" || k == "BCC" }

// fromDelivery is the message of d. Its ID is the _watermill_message_uuid
// header, else the message_id property, else digestID(d) (a message
// published by another client without an ID: the same on every
// redelivery). Header values that are not strings (numbers, booleans,
// timestamps, byte arrays from other tools) are converted to strings
// rather than rejected. The properties publishing maps are read back into
// their metadata entries, a property winning over a header of the same
// name.
func fromDelivery(d *amqp.Delivery) *herald.Message {
	id, _ := d.Headers[uuidHeader].(string)
	if id == "" {
		id = d.MessageId
	}
	if id == "" {
		id = digestID(d)
	}
	m := wm.New(id, d.Body, len(d.Headers)+1)
	md := m.Metadata
	// A message the delay tiers delivered carries RabbitMQ's
	// dead-lettering headers: theirs, not the publisher's.
	fromTiers := strings.HasPrefix(headerString(d.Headers["x-first-death-queue"]), delayPrefix)
	for k, v := range d.Headers {
		if k == uuidHeader || fromTiers && deadLetterHeader(k) {
			continue
		}
		sv := headerString(v)
		if strings.HasPrefix(k, reserved.Prefix) {
			if rk, rv, ok := reserved.Unescape(k, sv); ok {
				md[rk] = rv
				continue
			}
		}
		md[k] = sv
	}
	if d.Redelivered {
		md[RedeliveredHeader] = "true"
	}
	for _, p := range [...]struct{ key, val string }{
		{herald.ContentTypeHeader, d.ContentType},
		{ContentEncodingHeader, d.ContentEncoding},
		{adapters.CorrelationHeader, d.CorrelationId},
		// A request (Direct Reply-to or a reply queue of another
		// client): the responder replies to reply_to with its
		// correlation_id.
		{adapters.ReplyToHeader, d.ReplyTo},
		{TypeHeader, d.Type},
		{ExpirationHeader, d.Expiration},
	} {
		if p.val != "" {
			md[p.key] = p.val
		}
	}
	return m
}

// digestID is the ID of a message that came without one: "sha256:" and
// the first 128 bits, in hex, of the SHA-256 of its exchange, routing
// key, properties (content_type, content_encoding, correlation_id,
// reply_to, type, timestamp, app_id, user_id, priority; not expiration,
// which a dead-lettering removes), headers (sorted, without the x- ones the broker adds or changes on
// a redelivery or a dead-lettering, such as x-delivery-count and x-death)
// and body. A redelivery keeps it, so ID-based de-duplication (an inbox)
// works for foreign messages; two identical foreign messages (same
// exchange, routing key, properties, headers and body) share it.
func digestID(d *amqp.Delivery) string {
	h := sha256.New()
	var n [8]byte
	field := func(s string) {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	field(d.Exchange)
	field(d.RoutingKey)
	// The properties, which no redelivery changes (expiration aside:
	// RabbitMQ removes it when it dead-letters a message).
	var ts string
	if !d.Timestamp.IsZero() {
		ts = strconv.FormatInt(d.Timestamp.Unix(), 10)
	}
	for _, p := range [...]string{d.ContentType, d.ContentEncoding, d.CorrelationId, d.ReplyTo, d.Type, ts, d.AppId, d.UserId, strconv.Itoa(int(d.Priority))} {
		field(p)
	}
	keys := make([]string, 0, len(d.Headers))
	for k := range d.Headers {
		if !strings.HasPrefix(k, "x-") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		field(k)
		field(headerString(d.Headers[k]))
	}
	binary.BigEndian.PutUint64(n[:], uint64(len(d.Body)))
	h.Write(n[:])
	h.Write(d.Body)
	return "sha256:" + hex.EncodeToString(h.Sum(nil)[:16])
}

// headerString renders an AMQP field value as a string.
func headerString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case nil:
		return ""
	case bool:
		return strconv.FormatBool(x)
	case int8, int16, int32, int64, int, uint8, uint16, uint32, uint64:
		return fmt.Sprint(x)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	default:
		return fmt.Sprint(x)
	}
}
