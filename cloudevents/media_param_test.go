package cloudevents_test

import (
	"testing"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/cloudevents"
)

// TestReadUnquotedMediaParameter (attack18b): reads are lenient. Another
// producer's event whose datacontenttype has a parameter value that is
// not an RFC 2045 token and is not quoted (application/json;
// profile=https://example.com/order, a common way to write RFC 6906's
// profile) names its media type clearly, but Go's mime.ParseMediaType
// fails on the parameter. Before, FromMessage refused the whole event
// ("is not a media type"), so Handler dead-lettered it, and DecodeJSON
// refused its data as "not JSON". Writes stay strict: NewMessage still
// refuses such a datacontenttype.
func TestReadUnquotedMediaParameter(t *testing.T) {
	const ct = "application/json; profile=https://example.com/order"
	for _, prefix := range []string{"ce_", "ce-", "cloudEvents_"} {
		m := herald.NewMessage([]byte(`{"order":1}`))
		for k, v := range map[string]string{"specversion": "1.0", "id": "1", "source": "/s", "type": "t", "datacontenttype": ct} {
			m.Metadata.Set(prefix+k, v)
		}
		ev, err := cloudevents.FromMessage(m)
		if err != nil {
			t.Errorf("%s: FromMessage: %v; want the event", prefix, err)
			continue
		}
		if ev.DataContentType != ct {
			t.Errorf("%s: datacontenttype %q; want %q", prefix, ev.DataContentType, ct)
		}
		v, err := cloudevents.DecodeJSON[map[string]int](ev)
		if err != nil || v["order"] != 1 {
			t.Errorf("%s: DecodeJSON: %v, %v; want order 1", prefix, v, err)
		}
	}
	m := herald.NewMessage([]byte(`{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"` + ct + `","data":{"order":1}}`))
	m.Metadata.Set(herald.ContentTypeHeader, cloudevents.StructuredContentType)
	if ev, err := cloudevents.FromMessage(m); err != nil || string(ev.Data) != `{"order":1}` {
		t.Errorf("structured: FromMessage: %q, %v; want the event with its JSON data", ev.Data, err)
	}
	if _, err := cloudevents.NewMessage("kafka", cloudevents.Event{ID: "1", Source: "/s", Type: "t", DataContentType: ct}); err == nil {
		t.Errorf("NewMessage with datacontenttype %q: nil; want a strict write to refuse it", ct)
	}
}
