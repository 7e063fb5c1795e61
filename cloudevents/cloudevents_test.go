package cloudevents_test

import (
	"context"
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	_ "github.com/heraldkit/herald/adapters/embedded"
	_ "github.com/heraldkit/herald/adapters/memory"
	"github.com/heraldkit/herald/cloudevents"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// full is an event with every attribute and typed extensions.
func full() cloudevents.Event {
	ev := cloudevents.Event{
		ID:              "order-1-placed",
		Source:          "/checkout/eu",
		Type:            "com.example.order.placed",
		Subject:         "orders/1 (Euro € 😀) \"q\" 100%",
		Time:            time.Date(2026, 12, 7, 13, 40, 0, 123456789, time.UTC),
		DataContentType: "application/json",
		DataSchema:      "https://example.com/schemas/order.json",
		Data:            []byte(`{"order":1,"total":"12.50"}`),
	}
	must(ev.SetExtension("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))
	must(ev.SetExtension("partitionkey", "customer-7"))
	must(ev.SetExtension("priority", 5))
	must(ev.SetExtension("urgent", true))
	return ev
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// asStrings is ev with its extensions in their canonical string form, as
// a binary-mode reader returns them.
func asStrings(ev cloudevents.Event) cloudevents.Event {
	ext := map[string]any{}
	for k := range ev.Extensions {
		ext[k], _ = ev.Extension(k)
	}
	ev.Extensions = ext
	if ev.SpecVersion == "" {
		ev.SpecVersion = cloudevents.SpecVersion
	}
	return ev
}

func TestBinaryHeadersPerBinding(t *testing.T) {
	ev := full()
	for _, c := range []struct {
		scheme, id, dct, dctValue, subject string
	}{
		{"kafka", "ce_id", "content-type", "application/json", ev.Subject},
		{"amqp", "cloudEvents_id", "content-type", "application/json", ev.Subject},
		{"nats", "ce-id", "ce-datacontenttype", "application/json", "orders/1%20(Euro%20%E2%82%AC%20%F0%9F%98%80)%20%22q%22%20100%25"},
		{"mem", "ce-id", "ce-datacontenttype", "application/json", "orders/1%20(Euro%20%E2%82%AC%20%F0%9F%98%80)%20%22q%22%20100%25"},
	} {
		m, err := cloudevents.NewMessage(c.scheme, ev)
		if err != nil {
			t.Fatal(c.scheme, err)
		}
		b, _ := cloudevents.BindingFor(c.scheme)
		if got := m.Metadata.Get(c.id); got != ev.ID {
			t.Errorf("%s: %s = %q, want %q", c.scheme, c.id, got, ev.ID)
		}
		if got := m.Metadata.Get(c.dct); got != c.dctValue {
			t.Errorf("%s: %s = %q, want %q", c.scheme, c.dct, got, c.dctValue)
		}
		if got := m.Metadata.Get(b.Prefix() + "subject"); got != c.subject {
			t.Errorf("%s: subject header = %q, want %q", c.scheme, got, c.subject)
		}
		if got := m.Metadata.Get(b.Prefix() + "time"); got != "2026-12-07T13:40:00.123456789Z" {
			t.Errorf("%s: time header = %q", c.scheme, got)
		}
		if got := m.Metadata.Get(b.Prefix() + "priority"); got != "5" {
			t.Errorf("%s: priority header = %q, want 5", c.scheme, got)
		}
		if want := cloudevents.MessageID(ev.Source, ev.ID); m.UUID != want {
			t.Errorf("%s: message ID %q, want MessageID(source, id) %q", c.scheme, m.UUID, want)
		}
		if string(m.Payload) != string(ev.Data) {
			t.Errorf("%s: payload %q", c.scheme, m.Payload)
		}
		if herald.Key(m) != "" {
			t.Errorf("%s: key %q set without WithPartitionKey", c.scheme, herald.Key(m))
		}
		got, err := cloudevents.FromMessage(m)
		if err != nil {
			t.Fatal(c.scheme, err)
		}
		if want := asStrings(ev); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: read back\n%+v\nwant\n%+v", c.scheme, got, want)
		}
	}
}

func TestStructuredRoundTrip(t *testing.T) {
	ev := full()
	for _, scheme := range []string{"kafka", "nats", "amqp"} {
		m, err := cloudevents.NewMessage(scheme, ev, cloudevents.WithMode(cloudevents.Structured))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := cloudevents.BindingFor(scheme)
		ct := "content-type"
		if b == cloudevents.NATS {
			ct = "Content-Type"
		}
		if got := m.Metadata.Get(ct); got != cloudevents.StructuredContentType {
			t.Errorf("%s: %s = %q", scheme, ct, got)
		}
		if len(m.Metadata) != 1 {
			t.Errorf("%s: structured message has headers %v, want only the content type", scheme, m.Metadata)
		}
		got, err := cloudevents.FromMessage(m)
		if err != nil {
			t.Fatal(err)
		}
		want := ev
		want.SpecVersion = cloudevents.SpecVersion
		if !reflect.DeepEqual(got, want) { // typed: int32 and bool survive the JSON format
			t.Errorf("%s: read back\n%+v\nwant\n%+v\npayload %s", scheme, got, want, m.Payload)
		}
	}
}

func TestStructuredData(t *testing.T) {
	for _, c := range []struct {
		ct, data, want string
	}{
		{"application/json", `{"a": 1}`, `"data":{"a":1}`},
		{"", `[1,2]`, `"data":[1,2]`},
		{"text/plain", "hi there", `"data":"hi there"`},
		{"application/protobuf", "\x00\x01\xff", `"data_base64":"AAH/"`},
		{"application/json", `not json`, `"data_base64":"bm90IGpzb24="`},
	} {
		ev := cloudevents.Event{ID: "1", Source: "/s", Type: "t", DataContentType: c.ct, Data: []byte(c.data)}
		m, err := cloudevents.NewMessage("kafka", ev, cloudevents.WithMode(cloudevents.Structured))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(m.Payload), c.want) {
			t.Errorf("%q %q: payload %s, want it to contain %s", c.ct, c.data, m.Payload, c.want)
		}
		got, err := cloudevents.FromMessage(m)
		if err != nil {
			t.Fatal(err)
		}
		if c.ct == "application/json" && c.data == `{"a": 1}` {
			c.data = `{"a":1}` // compacted
		}
		if string(got.Data) != c.data {
			t.Errorf("%q: data read back %q, want %q", c.ct, got.Data, c.data)
		}
	}
}

func TestValidationNamesTheAttribute(t *testing.T) {
	ok := cloudevents.Event{ID: "1", Source: "/s", Type: "t"}
	for _, c := range []struct {
		attr string
		edit func(*cloudevents.Event)
	}{
		{"id", func(e *cloudevents.Event) { e.ID = "" }},
		{"source", func(e *cloudevents.Event) { e.Source = "" }},
		{"source", func(e *cloudevents.Event) { e.Source = "http://[::1" }},
		{"specversion", func(e *cloudevents.Event) { e.SpecVersion = "0.3" }},
		{"type", func(e *cloudevents.Event) { e.Type = "" }},
		{"datacontenttype", func(e *cloudevents.Event) { e.DataContentType = "not a type" }},
		{"dataschema", func(e *cloudevents.Event) { e.DataSchema = "/relative" }},
		{"Bad_Name", func(e *cloudevents.Event) { e.Extensions = map[string]any{"Bad_Name": "x"} }},
		{"subject", func(e *cloudevents.Event) { e.Extensions = map[string]any{"subject": "x"} }},
		{"weight", func(e *cloudevents.Event) { e.Extensions = map[string]any{"weight": 1.5} }},
		{"big", func(e *cloudevents.Event) { e.Extensions = map[string]any{"big": 1 << 40} }},
	} {
		ev := ok
		c.edit(&ev)
		_, err := cloudevents.NewMessage("mem", ev)
		var ve *cloudevents.ValidationError
		if !errors.As(err, &ve) || ve.Attribute != c.attr {
			t.Errorf("want a ValidationError for %q, got %v", c.attr, err)
		}
	}
	if _, err := cloudevents.NewMessage("mem", ok); err != nil {
		t.Fatal(err)
	}
	var ev cloudevents.Event
	if err := ev.SetExtension("when", time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse("https://example.com/x")
	if err := ev.SetExtension("ref", u); err != nil {
		t.Fatal(err)
	}
	if s, _ := ev.Extension("when"); s != "1970-01-01T00:00:00Z" {
		t.Errorf("time extension = %q", s)
	}
	if err := ev.SetExtension("n", 1<<40); err == nil {
		t.Error("an int out of the int32 range was accepted")
	}
}

func TestBindingForUnknownBackend(t *testing.T) {
	_, err := cloudevents.NewMessage("sqlite", cloudevents.Event{ID: "1", Source: "/s", Type: "t"})
	var he *herald.Error
	if !errors.As(err, &he) || he.Backend != "sqlite" || !errors.Is(err, herald.ErrInvalid) {
		t.Fatalf("got %v, want a *herald.Error naming sqlite", err)
	}
	_, err = cloudevents.NewMessage("kafka", cloudevents.Event{ID: "1", Source: "/s", Type: "t"}, cloudevents.WithAMQPColonPrefix())
	if !errors.As(err, &he) || he.Backend != "kafka" {
		t.Fatalf("WithAMQPColonPrefix on kafka: got %v, want a refusal naming kafka", err)
	}
	m, err := cloudevents.NewMessage("amqp", cloudevents.Event{ID: "1", Source: "/s", Type: "t"}, cloudevents.WithAMQPColonPrefix())
	if err != nil || m.Metadata.Get("cloudEvents:id") != "1" || m.Metadata.Get("cloudEvents_id") != "" {
		t.Fatalf("WithAMQPColonPrefix: %v %v", m, err)
	}
}

func TestPartitionKey(t *testing.T) {
	ev := full()
	m, err := cloudevents.NewMessage("kafka", ev, cloudevents.WithPartitionKey())
	if err != nil {
		t.Fatal(err)
	}
	if herald.Key(m) != "customer-7" || m.Metadata.Get("ce_partitionkey") != "customer-7" {
		t.Fatalf("key %q, ce_partitionkey %q: want both customer-7", herald.Key(m), m.Metadata.Get("ce_partitionkey"))
	}
	if v, _ := ev.Extension("partitionkey"); v != "customer-7" {
		t.Fatal("the event was changed")
	}
}

func TestLenientReads(t *testing.T) {
	for _, c := range []struct {
		name string
		md   map[string]string
	}{
		{"kafka", map[string]string{"ce_specversion": "1.0", "ce_id": "1", "ce_source": "/s", "ce_type": "t", "content-type": "text/plain", "ce_color": "blue"}},
		{"upper case", map[string]string{"CE_SPECVERSION": "1.0", "Ce_Id": "1", "ce_source": "/s", "ce_type": "t", "Content-Type": "text/plain", "ce_Color": "blue"}},
		{"nats quoted", map[string]string{"ce-specversion": `"1.0"`, "ce-id": `"1"`, "ce-source": "/s", "ce-type": "t", "ce-datacontenttype": "text/plain", "ce-color": `"bl\ue"`}},
		{"nats sdk-go unencoded percent", map[string]string{"ce-specversion": "1.0", "ce-id": "1", "ce-source": "/s", "ce-type": "t", "content-type": "text/plain", "ce-color": "blue"}},
		{"amqp underscore", map[string]string{"cloudEvents_specversion": "1.0", "cloudEvents_id": "1", "cloudEvents_source": "/s", "cloudEvents_type": "t", "content-type": "text/plain", "cloudEvents_color": "blue"}},
		{"amqp colon", map[string]string{"cloudEvents:specversion": "1.0", "cloudEvents:id": "1", "cloudEvents:source": "/s", "cloudEvents:type": "t", "content-type": "text/plain", "cloudEvents:color": "blue"}},
		{"knative rabbitmq", map[string]string{"ce-specversion": "1.0", "ce-id": "1", "ce-source": "/s", "ce-type": "t", "content-type": "text/plain", "ce-color": "blue"}},
	} {
		m := herald.NewMessage([]byte("hello"))
		for k, v := range c.md {
			m.Metadata.Set(k, v)
		}
		ev, err := cloudevents.FromMessage(m)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		want := cloudevents.Event{ID: "1", Source: "/s", SpecVersion: "1.0", Type: "t", DataContentType: "text/plain", Extensions: map[string]any{"color": "blue"}, Data: []byte("hello")}
		if !reflect.DeepEqual(ev, want) {
			t.Errorf("%s: %+v", c.name, ev)
		}
	}
	// An extension name a write refuses is read, and refused on a write.
	m := herald.NewMessage(nil)
	for k, v := range map[string]string{"ce_specversion": "1.0", "ce_id": "1", "ce_source": "/s", "ce_type": "t", "ce_My-Ext": "x"} {
		m.Metadata.Set(k, v)
	}
	ev, err := cloudevents.FromMessage(m)
	if err != nil || ev.Extensions["my-ext"] != "x" {
		t.Fatalf("ce_My-Ext: %+v %v", ev, err)
	}
	var ve *cloudevents.ValidationError
	if _, err := cloudevents.NewMessage("kafka", ev); !errors.As(err, &ve) || ve.Attribute != "my-ext" {
		t.Fatalf("writing my-ext: %v, want a ValidationError naming it", err)
	}
	// Structured without a content type (sdk-go's NATS structured mode).
	m = herald.NewMessage([]byte(`{"specversion":"1.0","id":"1","source":"/s","type":"t","n":3,"data":{"x":1}}`))
	ev, err = cloudevents.FromMessage(m)
	if err != nil || ev.Extensions["n"] != int32(3) || string(ev.Data) != `{"x":1}` {
		t.Fatalf("structured without content type: %+v %v", ev, err)
	}
}

func TestReadRejects(t *testing.T) {
	for _, c := range []struct {
		attr string
		md   map[string]string
		body string
	}{
		{"specversion", nil, "plain"},
		{"specversion", map[string]string{"ce-specversion": "0.3", "ce-id": "1", "ce-source": "/s", "ce-type": "t"}, ""},
		{"subject", map[string]string{"ce-specversion": "1.0", "ce-id": "1", "ce-source": "/s", "ce-type": "t", "ce-subject": "%C0%A0"}, ""}, // overlong UTF-8
		{"time", map[string]string{"ce_specversion": "1.0", "ce_id": "1", "ce_source": "/s", "ce_type": "t", "ce_time": "yesterday"}, ""},
		{"source", map[string]string{"ce_specversion": "1.0", "ce_id": "1", "ce_type": "t"}, ""},
		{"datacontenttype", map[string]string{"content-type": "application/cloudevents-batch+json"}, "[]"},
		{"n", map[string]string{"content-type": cloudevents.StructuredContentType}, `{"specversion":"1.0","id":"1","source":"/s","type":"t","n":1.5}`},
		{"data_base64", map[string]string{"content-type": cloudevents.StructuredContentType}, `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":1,"data_base64":"AA=="}`},
	} {
		m := herald.NewMessage([]byte(c.body))
		for k, v := range c.md {
			m.Metadata.Set(k, v)
		}
		_, err := cloudevents.FromMessage(m)
		var ve *cloudevents.ValidationError
		if !errors.As(err, &ve) || ve.Attribute != c.attr {
			t.Errorf("%v: got %v, want a ValidationError for %q", c.md, err, c.attr)
		}
	}
	h := cloudevents.Handler(func(context.Context, cloudevents.Event, *herald.Message) error { return nil })
	if err := h(context.Background(), herald.NewMessage([]byte("x"))); !herald.IsPermanent(err) {
		t.Fatalf("Handler on a non-event: %v, want a permanent error", err)
	}
}

// TestPublishAndHandle goes through a real publisher and subscriber on
// the in-process backends, in both modes.
func TestPublishAndHandle(t *testing.T) {
	for _, target := range []string{"mem://ce-test", "embedded://" + t.TempDir()} {
		for _, mode := range []cloudevents.Mode{cloudevents.Binary, cloudevents.Structured} {
			got := roundTrip(t, target, "ce."+mode.String(), mode)
			want := full()
			want.SpecVersion = cloudevents.SpecVersion
			if mode == cloudevents.Binary {
				want = asStrings(full())
			}
			if !reflect.DeepEqual(got.ev, want) {
				t.Errorf("%s %s: got\n%+v\nwant\n%+v", target, mode, got.ev, want)
			}
			if got.id != cloudevents.MessageID(want.Source, want.ID) || got.key != "customer-7" {
				t.Errorf("%s %s: message ID %q key %q", target, mode, got.id, got.key)
			}
		}
	}
}

type received struct {
	ev      cloudevents.Event
	id, key string
}

func roundTrip(t *testing.T, target, topic string, mode cloudevents.Mode) received {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sub, err := subscriber.Open(ctx, target, subscriber.WithGroup("g"))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := sub.Prepare(ctx, topic); err != nil {
		t.Fatal(err)
	}
	pub, err := publisher.Open(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if err := cloudevents.Publish(ctx, pub, topic, "", full(), cloudevents.WithMode(mode), cloudevents.WithPartitionKey()); err != nil {
		t.Fatal(err)
	}
	got := make(chan received, 1)
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		_ = sub.Subscribe(sctx, topic, cloudevents.Handler(func(_ context.Context, ev cloudevents.Event, m *herald.Message) error {
			select {
			case got <- received{ev, m.UUID, herald.Key(m)}:
			default:
			}
			return nil
		}))
	}()
	select {
	case r := <-got:
		return r
	case <-ctx.Done():
		t.Fatal("no event received")
	}
	return received{}
}
