package natsxtest

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldkit/herald/adapters/internal/natsx"
)

// ForeignMessages checks issue 18 items 3 and 4 on JetStream: a message a
// plain client published with a Nats-Msg-Id (and no Herald ID header) has
// that as its ID; one with neither gets "<stream>:<sequence>"; both keep
// their ID when redelivered after a Nack, and Received.Time is the time
// the stream stored them.
func ForeignMessages(t *testing.T, f Fixture) {
	topic := f.Topic(t)
	st := OpenStream(t, f.OpenSubscription(t, "g", ""), topic, 8, nil)
	tp := f.OpenTopic(t, "")
	var js jetstream.JetStream
	if !tp.As(&js) {
		t.Fatal("Topic.As(*jetstream.JetStream) = false")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	before := time.Now()
	withID := &nats.Msg{Subject: topic, Data: []byte("with id"), Header: nats.Header{nats.MsgIdHdr: {"foreign-7"}, "h": {"v"}}}
	if _, err := js.PublishMsg(ctx, withID); err != nil {
		t.Fatal(err)
	}
	ack, err := js.Publish(ctx, topic, []byte("no id"))
	if err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	want := map[string]string{"with id": "foreign-7", "no id": ack.Stream + ":" + strconv.FormatUint(ack.Sequence, 10)}
	got := ReceiveN(t, st, 2, 20*time.Second)
	for _, d := range got {
		p := string(d.Msg.Payload)
		if d.Msg.UUID != want[p] {
			t.Errorf("%s: ID %q; want %q", p, d.Msg.UUID, want[p])
		}
		if d.Time.Before(before.Add(-time.Second)) || d.Time.After(after.Add(time.Second)) {
			t.Errorf("%s: Received.Time %v; want the stored time, between %v and %v", p, d.Time, before, after)
		}
		_, uuid := d.Msg.Metadata[natsx.WatermillUUIDHdr]
		if _, msgID := d.Msg.Metadata[nats.MsgIdHdr]; uuid || msgID {
			t.Errorf("%s: ID headers left in the metadata %v", p, d.Msg.Metadata)
		}
		st.Nack(d.Token, 0)
	}
	for _, d := range ReceiveN(t, st, 2, 20*time.Second) {
		p := string(d.Msg.Payload)
		if d.Msg.UUID != want[p] || d.Attempt != 2 {
			t.Errorf("%s redelivered: ID %q attempt %d; want %q, attempt 2", p, d.Msg.UUID, d.Attempt, want[p])
		}
		st.Ack(d.Token)
	}
}
