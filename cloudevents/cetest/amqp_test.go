package cetest

import (
	"context"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters/adaptertest"
	_ "github.com/heraldkit/herald/adapters/rabbitmq"
	"github.com/heraldkit/herald/cloudevents"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// rabbit returns Herald's target, a plain amqp091 channel, and a fresh
// topic (a fanout exchange) whose exchange and queues are deleted at the
// end.
func rabbit(t *testing.T, group string) (target string, ch *amqp.Channel, topic string) {
	t.Helper()
	target = adaptertest.BrokerURL(t, "HERALD_TEST_AMQP")
	conn, err := amqp.Dial(strings.SplitN(target, "?", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if ch, err = conn.Channel(); err != nil {
		t.Fatal(err)
	}
	topic = "cetest-" + strings.ToLower(herald.NewID())
	t.Cleanup(func() {
		if group != "" {
			_, _ = ch.QueueDelete(topic+"."+group, false, false, false)
		}
		_ = ch.ExchangeDelete(topic, false, false)
	})
	return target, ch, topic
}

// TestAMQPHeraldToPlainClient: what a plain AMQP 0-9-1 client (amqp091-go,
// as pika would) sees of an event Herald publishes on RabbitMQ: in binary
// mode one cloudEvents_<attr> header per attribute and extension, the
// datacontenttype as the AMQP content_type property (and the content-type
// header), cloudevents.MessageID(source, id) as message_id; in structured mode the JSON event
// format as the body and a content_type (and content-type header) of
// application/cloudevents+json.
func TestAMQPHeraldToPlainClient(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			target, ch, topic := rabbit(t, "")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := ch.ExchangeDeclare(topic, "fanout", true, false, false, false, nil); err != nil {
				t.Fatal(err)
			}
			q, err := ch.QueueDeclare("", false, true, true, false, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := ch.QueueBind(q.Name, "", topic, false, nil); err != nil {
				t.Fatal(err)
			}
			deliveries, err := ch.Consume(q.Name, "", true, true, false, false, nil)
			if err != nil {
				t.Fatal(err)
			}
			pub, err := publisher.Open(ctx, target)
			if err != nil {
				t.Fatal(err)
			}
			defer pub.Close()
			id := "herald-" + herald.NewID()
			subject := "orders/1 (Euro € 😀) 100%"
			if err := cloudevents.Publish(ctx, pub, topic, "", heraldEvent(id, subject), cloudevents.WithMode(mode)); err != nil {
				t.Fatal(err)
			}
			var d amqp.Delivery
			select {
			case d = <-deliveries:
			case <-ctx.Done():
				t.Fatal("the plain client received nothing")
			}
			if want := cloudevents.MessageID(evSource, id); d.MessageId != want {
				t.Errorf("message_id %q, want MessageID(source, id) %q", d.MessageId, want)
			}
			if mode == cloudevents.Structured {
				if ct := d.Headers["content-type"]; ct != cloudevents.StructuredContentType {
					t.Errorf("content-type header %v", ct)
				}
				if d.ContentType != cloudevents.StructuredContentType {
					t.Errorf("content_type property %q, want %q", d.ContentType, cloudevents.StructuredContentType)
				}
				if !strings.Contains(string(d.Body), `"specversion":"1.0"`) || !strings.Contains(string(d.Body), `"data":`+evData) {
					t.Errorf("body %s", d.Body)
				}
				return
			}
			for k, want := range map[string]string{
				"cloudEvents_specversion": "1.0", "cloudEvents_id": id, "cloudEvents_source": evSource, "cloudEvents_type": evType,
				"cloudEvents_subject": subject, "cloudEvents_time": "2026-12-07T13:40:00.123456789Z", "cloudEvents_dataschema": evSchema,
				"cloudEvents_traceparent": evTrace, "cloudEvents_partitionkey": evPartKey, "cloudEvents_priority": "5", "cloudEvents_urgent": "true",
				"content-type": "application/json",
			} {
				if got := d.Headers[k]; got != want {
					t.Errorf("header %s = %v, want %q", k, got, want)
				}
			}
			if d.ContentType != "application/json" {
				t.Errorf("content_type property %q, want the datacontenttype application/json", d.ContentType)
			}
			if string(d.Body) != evData {
				t.Errorf("body %q", d.Body)
			}
		})
	}
}

// TestAMQPPlainClientToHerald: an event a plain AMQP 0-9-1 client
// publishes with the AMQP binding's colon prefix and native AMQP types
// (a timestamp, an int32, a boolean) is read by Herald with every
// attribute and extension (the driver renders non-string header values
// as strings), the datacontenttype from the AMQP content_type property.
func TestAMQPPlainClientToHerald(t *testing.T) {
	target, ch, topic := rabbit(t, "ce")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sub, err := subscriber.Open(ctx, target, subscriber.WithGroup("ce"))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := sub.Prepare(ctx, topic); err != nil {
		t.Fatal(err)
	}
	id := "amqp-" + herald.NewID()
	subject := "orders/1 (Euro € 😀) 100%"
	err = ch.PublishWithContext(ctx, topic, "", false, false, amqp.Publishing{
		Headers: amqp.Table{
			"cloudEvents:specversion": "1.0", "cloudEvents:id": id, "cloudEvents:source": evSource, "cloudEvents:type": evType,
			"cloudEvents:subject": subject, "cloudEvents:time": evTime, "cloudEvents:dataschema": evSchema,
			"cloudEvents:traceparent": evTrace, "cloudEvents:partitionkey": evPartKey, "cloudEvents:priority": int32(5), "cloudEvents:urgent": true,
		},
		ContentType: "application/json", // the property only, as a plain AMQP client sets it
		MessageId:   id,
		Body:        []byte(evData),
	})
	if err != nil {
		t.Fatal(err)
	}
	got := receiveHerald(t, ctx, sub, topic)
	if got.id != id {
		t.Errorf("Herald message ID %q, want the message_id %q", got.id, id)
	}
	// The AMQP timestamp has second precision.
	want := evTime.Truncate(time.Second)
	if !got.ev.Time.Equal(want) {
		t.Errorf("time %v, want %v", got.ev.Time, want)
	}
	got.ev.Time = evTime
	checkHerald(t, got.ev, id, subject, cloudevents.Binary)
}
