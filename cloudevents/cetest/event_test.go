package cetest

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	sdk "github.com/cloudevents/sdk-go/v2/event"

	"github.com/heraldkit/herald/cloudevents"
)

// The event both sides send: every attribute and three extensions (a
// string, an integer and a boolean).
const (
	evSource  = "/checkout/eu"
	evType    = "com.example.order.placed"
	evSchema  = "https://example.com/schemas/order.json"
	evData    = `{"order":1,"total":"12.50"}`
	evTrace   = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	evPartKey = "customer-7"
)

var evTime = time.Date(2026, 12, 7, 13, 40, 0, 123456789, time.UTC)

// heraldEvent is the event as Herald writes it.
func heraldEvent(id, subject string) cloudevents.Event {
	ev := cloudevents.Event{ID: id, Source: evSource, Type: evType, Subject: subject, Time: evTime,
		DataContentType: "application/json", DataSchema: evSchema, Data: []byte(evData)}
	for k, v := range map[string]any{"traceparent": evTrace, "partitionkey": evPartKey, "priority": 5, "urgent": true} {
		if err := ev.SetExtension(k, v); err != nil {
			panic(err)
		}
	}
	return ev
}

// sdkEvent is the same event built with sdk-go.
func sdkEvent(id, subject string) sdk.Event {
	e := sdk.New()
	e.SetID(id)
	e.SetSource(evSource)
	e.SetType(evType)
	e.SetSubject(subject)
	e.SetTime(evTime)
	e.SetDataSchema(evSchema)
	if err := e.SetData("application/json", []byte(evData)); err != nil {
		panic(err)
	}
	e.SetExtension("traceparent", evTrace)
	e.SetExtension("partitionkey", evPartKey)
	e.SetExtension("priority", 5)
	e.SetExtension("urgent", true)
	return e
}

// checkHerald fails t unless got (read by Herald) is the event sdk-go
// sent: every attribute, every extension (as strings in binary mode, as
// typed values in structured mode) and the data.
func checkHerald(t *testing.T, got cloudevents.Event, id, subject string, mode cloudevents.Mode) {
	t.Helper()
	want := heraldEvent(id, subject)
	want.SpecVersion = cloudevents.SpecVersion
	if mode == cloudevents.Binary {
		ext := map[string]any{}
		for k := range want.Extensions {
			ext[k], _ = want.Extension(k)
		}
		want.Extensions = ext
	}
	if !got.Time.Equal(want.Time) {
		t.Errorf("time %v, want %v", got.Time, want.Time)
	}
	got.Time, want.Time = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Herald read\n%+v\nwant\n%+v", got, want)
	}
}

// checkSDK fails t unless got (read by sdk-go) is the event Herald sent,
// with subject as sdk-go sees it.
func checkSDK(t *testing.T, got sdk.Event, id, subject string) {
	t.Helper()
	if err := got.Validate(); err != nil {
		t.Errorf("sdk-go says the event is invalid: %v", err)
	}
	for _, c := range []struct{ attr, got, want string }{
		{"specversion", got.SpecVersion(), "1.0"},
		{"id", got.ID(), id},
		{"source", got.Source(), evSource},
		{"type", got.Type(), evType},
		{"subject", got.Subject(), subject},
		{"datacontenttype", got.DataContentType(), "application/json"},
		{"dataschema", got.DataSchema(), evSchema},
		{"data", string(got.Data()), evData},
	} {
		if c.got != c.want {
			t.Errorf("sdk-go read %s %q, want %q", c.attr, c.got, c.want)
		}
	}
	if !got.Time().Equal(evTime) {
		t.Errorf("sdk-go read time %v, want %v", got.Time(), evTime)
	}
	ext := got.Extensions()
	for k, want := range map[string]string{"traceparent": evTrace, "partitionkey": evPartKey, "priority": "5", "urgent": "true"} {
		if s := fmt.Sprint(ext[k]); s != want {
			t.Errorf("sdk-go read extension %s %q (%T), want %q", k, s, ext[k], want)
		}
	}
}
