package rabbitmq

import (
	"fmt"
	"regexp"
	"strconv"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// maxShortstr is AMQP's limit for a short string: a header name, the
// message_id property.
const maxShortstr = 255

// checkPublishing rejects what the broker would refuse by closing the
// channel (a message over its size limit) or the whole connection (a
// header frame over frame_max, a short string over 255 bytes), so that one
// bad message fails alone and at once. frameMax and maxSize are the
// broker's limits as far as known (0: unknown).
func checkPublishing(pub amqp.Publishing, frameMax int, maxSize int64) error {
	if len(pub.MessageId) > maxShortstr {
		return withKind(herald.KindInvalid, fmt.Errorf("the message ID is %d bytes, over AMQP's %d for message_id", len(pub.MessageId), maxShortstr))
	}
	for _, p := range [...]struct{ name, val string }{
		{"content_type (metadata " + herald.ContentTypeHeader + ")", pub.ContentType},
		{"content_encoding (metadata " + ContentEncodingHeader + ")", pub.ContentEncoding},
		{"correlation_id (metadata " + adapters.CorrelationHeader + ")", pub.CorrelationId},
		{"reply_to (metadata " + adapters.ReplyToHeader + ")", pub.ReplyTo},
		{"type (herald.Properties.Type)", pub.Type},
	} {
		if len(p.val) > maxShortstr {
			return withKind(herald.KindInvalid, fmt.Errorf("the %s property is %d bytes, over AMQP's %d", p.name, len(p.val), maxShortstr))
		}
	}
	for k := range pub.Headers {
		if len(k) > maxShortstr {
			return withKind(herald.KindInvalid, fmt.Errorf("metadata key %.40q... is %d bytes, over AMQP's %d for a header name", k, len(k), maxShortstr))
		}
	}
	if n := headerFrameSize(pub); frameMax > 0 && n > frameMax {
		return withKind(herald.KindTooLarge, fmt.Errorf("the metadata is %d bytes encoded, over the broker's frame_max of %d bytes (AMQP sends all headers in one frame: carry large data in the payload)", n, frameMax))
	}
	if maxSize > 0 && int64(len(pub.Body)) > maxSize {
		return sizeError(int64(len(pub.Body)), maxSize)
	}
	return nil
}

func sizeError(size, limit int64) error {
	return withKind(herald.KindTooLarge, fmt.Errorf("the payload is %d bytes, over the broker's max_message_size of %d bytes", size, limit))
}

// headerFrameSize is the size of the content header frame amqp091 sends
// for pub, for the properties the marshaler sets: frame header (7), class,
// weight, body size and flags (14), the properties, frame end (1).
func headerFrameSize(pub amqp.Publishing) int {
	n := 7 + 14 + 1
	if pub.Headers != nil {
		n += 4
		for k, v := range pub.Headers {
			n += 1 + len(k) + 1
			switch x := v.(type) {
			case string:
				n += 4 + len(x)
			case []byte:
				n += 4 + len(x)
			default:
				n += 16
			}
		}
	}
	if pub.DeliveryMode != 0 {
		n++
	}
	if pub.MessageId != "" {
		n += 1 + len(pub.MessageId)
	}
	if !pub.Timestamp.IsZero() {
		n += 8
	}
	for _, s := range []string{pub.ContentType, pub.ContentEncoding, pub.CorrelationId, pub.ReplyTo, pub.Expiration, pub.Type, pub.UserId, pub.AppId} {
		if s != "" {
			n += 1 + len(s)
		}
	}
	return n
}

// sizeRefusal matches RabbitMQ's reason for closing a channel over a
// message larger than max_message_size.
var sizeRefusal = regexp.MustCompile(`message size (\d+) is larger than (?:configured )?max size (\d+)`)

// refusedSize returns the size and limit RabbitMQ quoted when it closed a
// channel over a message too large.
func refusedSize(e *amqp.Error) (size, limit int64, ok bool) {
	if e == nil || e.Code != amqp.PreconditionFailed {
		return 0, 0, false
	}
	m := sizeRefusal.FindStringSubmatch(e.Reason)
	if m == nil {
		return 0, 0, false
	}
	size, _ = strconv.ParseInt(m[1], 10, 64)
	limit, _ = strconv.ParseInt(m[2], 10, 64)
	return size, limit, limit > 0
}
