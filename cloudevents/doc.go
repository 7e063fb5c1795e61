// Package cloudevents writes and reads CloudEvents 1.0
// (https://cloudevents.io) on every Herald backend, in binary and
// structured content mode, following each protocol binding, so that
// services on other stacks (sdk-go, sdk-java, Knative, Dapr...) read
// Herald's events natively and Herald reads theirs. It depends on nothing
// beyond Herald: the binding rules are implemented here.
//
// It is opt-in: Publish (or NewMessage) writes an event on a publisher,
// Handler reads one on a subscriber; plain messages are untouched. The
// binding is chosen from the backend (the publisher's Config().Scheme), so
// the same code works on every backend:
//
//	backend          binary mode headers          datacontenttype          values
//	kafka            ce_<attr>                    content-type header      UTF-8 as is
//	nats, mem,       ce-<attr>                    ce-datacontenttype       percent-encoded
//	embedded
//	amqp, amqps      cloudEvents_<attr>           content-type header      UTF-8 as is
//
// Structured mode puts the JSON event format in the payload with content
// type application/cloudevents+json; charset=UTF-8 (the "content-type"
// header; "Content-Type" on NATS, as its binding spells it). Data whose
// datacontenttype is JSON travels inline as "data", text as a string,
// anything else as "data_base64".
//
// # Writes are strict, reads lenient
//
// An event is validated before it is written (Event.Validate): a missing
// id, source or type, a relative dataschema, a bad media type, an
// extension name that is not lower-case letters and digits or a value of
// a type CloudEvents does not define, or a string attribute holding what
// the CloudEvents String type excludes (control characters U+0000-U+001F
// and U+007F-U+009F, noncharacters, invalid UTF-8), a time outside RFC
// 3339's years 0000-9999, or, in binary mode on Kafka and AMQP (where
// datacontenttype is the content-type header), a datacontenttype
// starting with application/cloudevents (a reader would take the data for
// the event: use structured mode) is refused with a *ValidationError
// naming the attribute. A written message's Herald ID is
// MessageID(source, id): CloudEvents identifies an event by both, so a
// resend of one event is a duplicate and two sources' events with one id
// are not.
//
// FromMessage reads any binding's form on any backend: structured when
// the content type (any case) starts with application/cloudevents, else
// binary under whichever prefix carries specversion: ce_, ce-,
// cloudEvents_ or cloudEvents: (any case). ce- values are percent-decoded
// (a '%' that starts no escape is kept: sdk-go v2.16.2 does not encode),
// and quoted strings are unquoted, as the NATS binding requires. A
// payload that is a JSON event with no header at all (sdk-go's NATS
// structured mode) is read as structured. Batch mode is refused.
// Extensions read from binary mode are strings (the headers carry no
// type); from structured mode, strings, booleans and int32 integers.
// Extension names are kept as read, lower-cased, even those a write
// would refuse.
//
// # Data
//
// Event.SetJSONData fills data and datacontenttype (application/json);
// DecodeJSON decodes it, a mismatching content type or bad JSON being a
// herald.Permanent error. Module github.com/heraldkit/herald/protobuf does
// the same for Protocol Buffers and fills dataschema from the message
// type.
//
// # Kafka keys
//
// The record key is the key given to Publish, kept as the Kafka binding
// requires. WithPartitionKey is the binding's opt-in Key Mapper: the
// event's partitionkey extension, when set, becomes the Herald key (the
// record key on Kafka, the ordering key elsewhere); the extension
// travels too. sdk-go's Sarama binding maps partitionkey to the record
// key by default, so its events arrive with that key.
//
// # RabbitMQ: why cloudEvents_
//
// CloudEvents has no AMQP 0-9-1 binding (the draft expired, spec #546).
// Herald writes the AMQP 1.0 binding's application-property names as AMQP
// 0-9-1 headers, with the "_" separator the binding prefers (it is a
// valid JMS identifier; spec PR #1050), because RabbitMQ 3.13 and later
// (4.x natively) hand non-x- 0-9-1 headers to AMQP 1.0 consumers as
// application properties, which is where an AMQP 1.0 CloudEvents client
// looks. RabbitMQ 3.10 to 3.12, whose AMQP 1.0 is the rabbitmq_amqp1_0
// plugin, drop 0-9-1 headers on the way to an AMQP 1.0 consumer and pass
// a 1.0 client's application properties to 0-9-1 consumers only as one
// encoded x-amqp-1.0-app-properties header: there binary mode does not
// cross between AMQP 0-9-1 and 1.0 in either direction, structured mode
// (content_type property and body) does. Verified by hand on RabbitMQ
// 3.10.8 with the plugin; no test runs it (docs/interop.md, "AMQP 1.0").
// sdk-go's AMQP binding reads only the ":" form (sdk-go
// #798): WithAMQPColonPrefix writes that instead. Knative's
// eventing-rabbitmq (a proprietary binding) uses ce- headers: Herald reads
// those too. The datacontenttype is the "content-type" metadata, which the
// RabbitMQ driver sends as the AMQP content_type property (where AMQP
// clients look for it; the AMQP 1.0 binding's place too) and as a
// header, and reads from the property, else the header.
//
// sdk-go has no binding for franz-go (sdk-go #1233, #1277, open):
// Herald's Kafka backend with this package is a CloudEvents path on
// franz-go. See docs/interop.md for what kcat, the nats CLI, an AMQP
// client and sdk-go see.
package cloudevents
