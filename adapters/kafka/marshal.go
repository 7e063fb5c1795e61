package kafka

import (
	"strconv"

	"github.com/IBM/sarama"
	wmkafka "github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
)

// IDHeader is the record header that carries the message ID. It is
// Watermill's own (watermill-kafka's UUIDHeaderKey), so plain Watermill
// applications and Herald read each other's IDs.
const IDHeader = "_watermill_message_uuid"

// Marshaler maps Herald messages to Kafka records and back:
//
//   - the message ID travels in the IDHeader record header;
//   - the key set with herald.SetKey (metadata herald.KeyHeader) is the
//     record key, so the partitioner keeps per-key order, and it is not
//     repeated as a header;
//   - every other metadata entry is a record header.
//
// When consuming, a record without an ID header (written by kcat, a Java
// producer, ...) gets the ID "<topic>/<partition>/<offset>", stable across
// redeliveries, and a non-empty record key becomes the herald.KeyHeader
// metadata. A metadata entry named IDHeader is not sent: the ID wins.
type Marshaler struct{}

var _ wmkafka.MarshalerUnmarshaler = Marshaler{}

// Marshal implements watermill-kafka's Marshaler.
func (Marshaler) Marshal(topic string, msg *message.Message) (*sarama.ProducerMessage, error) {
	headers := make([]sarama.RecordHeader, 0, len(msg.Metadata)+1)
	headers = append(headers, sarama.RecordHeader{Key: []byte(IDHeader), Value: []byte(msg.UUID)})
	var key sarama.Encoder
	for k, v := range msg.Metadata {
		switch k {
		case herald.KeyHeader:
			if v != "" {
				key = sarama.StringEncoder(v)
			}
		case IDHeader:
		default:
			headers = append(headers, sarama.RecordHeader{Key: []byte(k), Value: []byte(v)})
		}
	}
	return &sarama.ProducerMessage{
		Topic:   topic,
		Key:     key,
		Value:   sarama.ByteEncoder(msg.Payload),
		Headers: headers,
	}, nil
}

// Unmarshal implements watermill-kafka's Unmarshaler.
func (Marshaler) Unmarshal(rec *sarama.ConsumerMessage) (*message.Message, error) {
	var id string
	md := make(message.Metadata, len(rec.Headers)+1)
	for _, h := range rec.Headers {
		if h == nil {
			continue
		}
		if string(h.Key) == IDHeader {
			id = string(h.Value)
			continue
		}
		md[string(h.Key)] = string(h.Value)
	}
	if id == "" {
		id = rec.Topic + "/" + strconv.FormatInt(int64(rec.Partition), 10) + "/" + strconv.FormatInt(rec.Offset, 10)
	}
	if len(rec.Key) > 0 {
		md[herald.KeyHeader] = string(rec.Key)
	}
	msg := message.NewMessage(id, rec.Value)
	msg.Metadata = md
	return msg, nil
}
