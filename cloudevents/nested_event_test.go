package cloudevents_test

import (
	"errors"
	"testing"

	"github.com/heraldkit/herald/cloudevents"
)

// TestBinaryCloudEventDataNotMisread (attack18b): on Kafka and AMQP the
// binary mode carries datacontenttype in the content-type header, and a
// reader (FromMessage, sdk-go's Kafka binding) takes a content type
// starting with application/cloudevents as structured mode. So an event
// whose data is itself a CloudEvent (a relay forwarding one, with
// datacontenttype application/cloudevents+json) written in binary mode
// was read back as the inner event: the outer id, source and type lost,
// silently. A strict write refuses it, naming datacontenttype; structured
// mode carries it, and so does NATS's binary mode (ce-datacontenttype).
func TestBinaryCloudEventDataNotMisread(t *testing.T) {
	inner := []byte(`{"specversion":"1.0","id":"inner","source":"/inner","type":"inner.t"}`)
	outer := cloudevents.Event{ID: "outer", Source: "/relay", Type: "relay.forwarded", DataContentType: "application/cloudevents+json", Data: inner}
	for _, scheme := range []string{"kafka", "amqp", "nats"} {
		for _, mode := range []cloudevents.Mode{cloudevents.Binary, cloudevents.Structured} {
			m, err := cloudevents.NewMessage(scheme, outer, cloudevents.WithMode(mode))
			var ve *cloudevents.ValidationError
			if errors.As(err, &ve) && ve.Attribute == "datacontenttype" && mode == cloudevents.Binary && scheme != "nats" {
				continue // refused: the strict write
			}
			if err != nil {
				t.Errorf("%s %s: NewMessage: %v", scheme, mode, err)
				continue
			}
			got, err := cloudevents.FromMessage(m)
			if err != nil || got.ID != "outer" || got.Source != "/relay" || string(got.Data) != string(inner) {
				t.Errorf("%s %s: read back id %q source %q data %s (%v); want the outer event with the inner one as data", scheme, mode, got.ID, got.Source, got.Data, err)
			}
		}
	}
}
