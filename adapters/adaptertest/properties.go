package adaptertest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/heraldkit/herald"
)

// directiveNames are metadata keys that name broker properties somewhere
// (headers Herald once read as publish directives, NATS's own headers): a
// metadata entry is a header on every backend, so each arrives as it was
// published, whatever its value, and sets nothing.
var directiveNames = map[string]string{
	"kafka-timestamp": "not a time",
	"amqp-timestamp":  "1700000000",
	"amqp-expiration": "soon",
	"amqp-type":       "order.placed",
	"Nats-TTL":        "1s",
	"Nats-Msg-Id":     "not-the-id",
	"Nats-Rollup":     "sub",
}

// testProperties (herald.Properties, Capabilities.Properties): a field
// the backend does not declare is refused by PublishWith with a
// *herald.Error of KindInvalid naming the backend and the field, and the
// message is not delivered; the declared ones publish, Time arriving as
// Delivery.Time (to the second: AMQP keeps whole seconds); metadata named
// like a broker property arrives unchanged and never acts as one (a
// message consumed and published again, a dead letter, must not set a
// property by accident).
func testProperties(t *testing.T, e *env) {
	topic := e.topic("props")
	ready, readyCh := readyOption()
	c := newCollector()
	e.subscribe(e.subscriber(e.group("props"), ready), readyCh, topic, c.handler)
	pub := e.publisher()
	ctx := context.Background()
	stamp := time.Now().Add(-time.Hour).Truncate(time.Second)
	var ids []string
	for _, f := range []struct {
		field    string
		declared bool
		props    herald.Properties
	}{
		{"Time", e.caps.Properties.Time, herald.Properties{Time: stamp}},
		{"TTL", e.caps.Properties.TTL, herald.Properties{TTL: time.Hour}},
		{"Type", e.caps.Properties.Type, herald.Properties{Type: "com.example.order.placed"}},
	} {
		m := herald.NewMessage([]byte(f.field))
		m.Metadata.Set("field", f.field)
		err := pub.PublishWith(ctx, topic, f.props, m)
		if f.declared {
			if err != nil {
				t.Errorf("PublishWith(%s) on a backend that declares it: %v", f.field, err)
				continue
			}
			ids = append(ids, m.UUID)
			continue
		}
		var he *herald.Error
		switch {
		case err == nil:
			t.Errorf("PublishWith(%s) on a backend that does not declare it: nil; want a refusal", f.field)
			ids = append(ids, m.UUID) // wait for it, to fail below too
		case !errors.As(err, &he) || he.Kind != herald.KindInvalid || he.Backend != e.cfg.Scheme:
			t.Errorf("PublishWith(%s): %v; want a *herald.Error of KindInvalid from backend %q", f.field, err, e.cfg.Scheme)
		case !strings.Contains(err.Error(), "Properties."+f.field):
			t.Errorf("PublishWith(%s): %q does not name the field", f.field, err)
		}
	}
	named := herald.NewMessage([]byte("named"))
	for k, v := range directiveNames {
		named.Metadata.Set(k, v)
	}
	if err := pub.Publish(ctx, topic, named); err != nil {
		t.Fatalf("Publish with metadata named like broker properties: %v", err)
	}
	ids = append(ids, named.UUID)
	c.waitIDs(t, e.wait(), ids)
	for _, got := range c.snapshot() {
		switch field := got.Metadata["field"]; {
		case got.ID == named.UUID:
			for k, v := range directiveNames {
				if got.Metadata[k] != v {
					t.Errorf("metadata %s = %q; want %q as published (a header, not a property)", k, got.Metadata[k], v)
				}
			}
		case field == "Time" && e.caps.Timestamps && !got.Time.Truncate(time.Second).Equal(stamp):
			t.Errorf("Delivery.Time = %v; want Properties.Time %v", got.Time, stamp)
		case field != "" && !map[string]bool{"Time": e.caps.Properties.Time, "TTL": e.caps.Properties.TTL, "Type": e.caps.Properties.Type}[field]:
			t.Errorf("the refused PublishWith(%s) was delivered", field)
		}
	}
}
