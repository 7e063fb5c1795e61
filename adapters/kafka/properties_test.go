package kafka

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// TestForeignRecordToHerald (issue 18 items 3-5): a record produced by a
// plain client without Herald's ID header reaches Herald with its
// timestamp as Received.Time, its duplicate headers joined, and the ID
// <topic>/<partition>/<offset>, which a redelivery (the group's next
// stream, nothing committed) keeps.
func TestForeignRecordToHerald(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	topic, group := uniqueName("foreign"), uniqueName("g")
	createTopic(t, target, topic, 1)
	ts := time.Date(2026, 12, 7, 13, 40, 0, 123e6, time.UTC)
	raw := rawClient(t, target)
	rec := &kgo.Record{Topic: topic, Key: []byte("k"), Value: []byte("foreign"), Timestamp: ts, Headers: []kgo.RecordHeader{
		{Key: "tag", Value: []byte("a")}, {Key: "tag", Value: []byte("b")}}}
	if err := raw.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	sub := openSubscription(t, withQuery(target, "group="+group))
	st := openStream(t, sub, topic, 8, nil)
	r := receiveN(t, st, 1, 30*time.Second)[0]
	if want := topic + "/0/0"; r.Msg.UUID != want {
		t.Errorf("id %q; want %q", r.Msg.UUID, want)
	}
	if !r.Time.Equal(ts) {
		t.Errorf("Received.Time = %v; want the record timestamp %v", r.Time, ts)
	}
	if got := r.Msg.Metadata.Get("tag"); got != "a, b" {
		t.Errorf("duplicate headers: tag = %q; want \"a, b\"", got)
	}
	if herald.Key(r.Msg) != "k" {
		t.Errorf("key %q", herald.Key(r.Msg))
	}
	if err := st.Close(context.Background()); err != nil { // unsettled: redelivered to the next stream
		t.Fatal(err)
	}
	again := receiveN(t, openStream(t, sub, topic, 8, nil), 1, 30*time.Second)[0]
	if again.Msg.UUID != r.Msg.UUID {
		t.Errorf("redelivered id %q; want %q", again.Msg.UUID, r.Msg.UUID)
	}
}

// TestHeraldTimestampToRaw (issue 18 items 3 and 5): Properties.Time is
// the record timestamp a plain consumer sees; a metadata entry is a
// header whatever its name (kafka-timestamp, a directive name before
// Properties); one named like the ID header is escaped: the ID header is
// the message ID, once.
func TestHeraldTimestampToRaw(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	topic := uniqueName("ts")
	createTopic(t, target, topic, 1)
	m := herald.NewMessage([]byte("x"))
	m.Metadata.Set("kafka-timestamp", "noon")
	m.Metadata.Set(IDHeader, "not the id")
	ts := time.Date(2026, 12, 7, 13, 40, 0, 123e6, time.UTC)
	sendSyncWith(t, openTopic(t, target), topic, adapters.SendOptions{Properties: herald.Properties{Time: ts}}, m)
	raw := rawClient(t, target, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got *kgo.Record
	for got == nil && ctx.Err() == nil {
		raw.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got = r })
	}
	if got == nil {
		t.Fatal("plain consumer received nothing")
	}
	if !got.Timestamp.Equal(ts) {
		t.Errorf("record timestamp %v; want %v", got.Timestamp, ts)
	}
	ids, named := 0, 0
	for _, h := range got.Headers {
		if h.Key == IDHeader {
			ids++
			if string(h.Value) != m.UUID {
				t.Errorf("%s = %q; want the ID", IDHeader, h.Value)
			}
		}
		if h.Key == "kafka-timestamp" {
			named++
			if string(h.Value) != "noon" {
				t.Errorf("header kafka-timestamp = %q; want noon", h.Value)
			}
		}
	}
	if named != 1 {
		t.Errorf("%d kafka-timestamp headers; want the metadata entry as one header", named)
	}
	if ids != 1 {
		t.Errorf("%d %s headers; want 1", ids, IDHeader)
	}
}
