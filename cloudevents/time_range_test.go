package cloudevents_test

import (
	"errors"
	"testing"
	"time"

	"github.com/heraldkit/herald/cloudevents"
)

// TestValidateRefusesTimeOutsideRFC3339 (attack18b): a CloudEvents
// Timestamp is RFC 3339, whose years are 0000-9999. A time.Time outside
// them (year 10000, year -1) formats as "10000-01-01T00:00:00Z", which no
// RFC 3339 reader (sdk-go, FromMessage itself) parses: a strict write
// must refuse it with a *ValidationError naming the attribute, the time
// attribute or a time.Time extension, instead of sending an event that
// every consumer dead-letters. Every event NewMessage accepts reads back.
func TestValidateRefusesTimeOutsideRFC3339(t *testing.T) {
	base := cloudevents.Event{ID: "1", Source: "/s", Type: "t"}
	for _, tm := range []time.Time{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)} {
		for attr, ev := range map[string]cloudevents.Event{
			"time":     func() cloudevents.Event { e := base; e.Time = tm; return e }(),
			"deadline": func() cloudevents.Event { e := base; e.Extensions = map[string]any{"deadline": tm}; return e }(),
		} {
			for _, scheme := range []string{"kafka", "nats", "amqp"} {
				for _, mode := range []cloudevents.Mode{cloudevents.Binary, cloudevents.Structured} {
					m, err := cloudevents.NewMessage(scheme, ev, cloudevents.WithMode(mode))
					var ve *cloudevents.ValidationError
					if errors.As(err, &ve) && ve.Attribute == attr {
						continue
					}
					if err != nil {
						t.Errorf("%s %v %s %s: NewMessage = %v; want a *ValidationError naming %q", attr, tm.Year(), scheme, mode, err, attr)
						continue
					}
					_, rerr := cloudevents.FromMessage(m)
					t.Errorf("%s %v %s %s: written (read back: %v); want a *ValidationError naming %q", attr, tm.Year(), scheme, mode, rerr, attr)
				}
			}
		}
	}
	// The range's ends are valid and read back exactly.
	for _, tm := range []time.Time{time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)} {
		ev := base
		ev.Time = tm
		m, err := cloudevents.NewMessage("kafka", ev)
		if err != nil {
			t.Fatalf("year %d: %v", tm.Year(), err)
		}
		got, err := cloudevents.FromMessage(m)
		if err != nil || !got.Time.Equal(tm) {
			t.Errorf("year %d: read %v, %v; want %v", tm.Year(), got.Time, err, tm)
		}
	}
}
