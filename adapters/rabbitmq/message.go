package rabbitmq

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/internal/wm"
)

// RedeliveredHeader is set to "true" in the metadata of a message the
// broker delivers again (after a nack or a lost channel). It is
// watermill-amqp's key, so its amqp.IsMessageRedelivered works too.
const RedeliveredHeader = "_watermill_redelivered"

// uuidHeader carries the message ID for watermill-amqp consumers (its
// DefaultMessageUUIDHeaderKey).
const uuidHeader = "_watermill_message_uuid"

// publishing maps a message to AMQP:
//
//   - every metadata entry is an AMQP header (herald.KeyHeader included),
//     so rabbitmqadmin and amqp-tools show them;
//   - the message ID is the AMQP message_id property and, for
//     watermill-amqp consumers, the _watermill_message_uuid header;
//   - messages are persistent (delivery mode 2) and time-stamped.
//
// It reads m only (m may be published from several goroutines at once).
func publishing(m *herald.Message) amqp.Publishing {
	headers := make(amqp.Table, len(m.Metadata)+1)
	for k, v := range m.Metadata {
		if k == RedeliveredHeader {
			continue // describes a receipt, not the message: never forwarded
		}
		headers[k] = v
	}
	headers[uuidHeader] = m.UUID
	return amqp.Publishing{
		Headers:      headers,
		DeliveryMode: amqp.Persistent,
		MessageId:    m.UUID,
		Timestamp:    time.Now(),
		Body:         m.Payload,
	}
}

// fromDelivery is the message of d. Its ID is the _watermill_message_uuid
// header, else the message_id property, else a new herald.NewID() (a
// message published by another tool without an ID). Header values that
// are not strings (numbers, booleans, timestamps, byte arrays from other
// tools) are converted to strings rather than rejected.
func fromDelivery(d *amqp.Delivery) *herald.Message {
	id, _ := d.Headers[uuidHeader].(string)
	if id == "" {
		id = d.MessageId
	}
	if id == "" {
		id = herald.NewID()
	}
	m := wm.New(id, d.Body, len(d.Headers)+1)
	// A message the delay tiers delivered carries RabbitMQ's
	// dead-lettering headers: theirs, not the publisher's.
	fromTiers := strings.HasPrefix(headerString(d.Headers["x-first-death-queue"]), delayPrefix)
	for k, v := range d.Headers {
		if k == uuidHeader || fromTiers && deadLetterHeader(k) {
			continue
		}
		m.Metadata[k] = headerString(v)
	}
	if d.Redelivered {
		m.Metadata[RedeliveredHeader] = "true"
	}
	if d.ReplyTo != "" {
		// A request (Direct Reply-to or a reply queue of another
		// client): the responder replies to reply_to with its
		// correlation_id.
		m.Metadata[adapters.ReplyToHeader] = d.ReplyTo
		if d.CorrelationId != "" {
			m.Metadata[adapters.CorrelationHeader] = d.CorrelationId
		}
	}
	return m
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
