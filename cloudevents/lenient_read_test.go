package cloudevents_test

import (
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/cloudevents"
)

// TestLenientReadNullAndLowerCaseTime (attack18b): reads are lenient.
// The JSON format treats an attribute whose value is null as absent, so
// "data_base64": null next to "data" is one data member, not two (it was
// refused as "present together with data"); and RFC 3339 (5.6, NOTE)
// allows the "T" and "Z" of a timestamp in lower case, which Go's
// time.RFC3339 layout refuses: another producer's time
// 2026-12-07t13:40:00z was refused, the event dead-lettered.
func TestLenientReadNullAndLowerCaseTime(t *testing.T) {
	want := time.Date(2026, 12, 7, 13, 40, 0, 0, time.UTC)
	m := herald.NewMessage([]byte(`{"specversion":"1.0","id":"1","source":"/s","type":"t","time":"2026-12-07t13:40:00z","data_base64":null,"data":{"a":1}}`))
	m.Metadata.Set(herald.ContentTypeHeader, cloudevents.StructuredContentType)
	ev, err := cloudevents.FromMessage(m)
	if err != nil || string(ev.Data) != `{"a":1}` || !ev.Time.Equal(want) {
		t.Errorf("structured: data %s time %v, %v; want the data and %v", ev.Data, ev.Time, err, want)
	}
	b := herald.NewMessage([]byte("x"))
	for k, v := range map[string]string{"ce_specversion": "1.0", "ce_id": "1", "ce_source": "/s", "ce_type": "t", "ce_time": "2026-12-07t13:40:00z"} {
		b.Metadata.Set(k, v)
	}
	if ev, err := cloudevents.FromMessage(b); err != nil || !ev.Time.Equal(want) {
		t.Errorf("binary: time %v, %v; want %v", ev.Time, err, want)
	}
}
