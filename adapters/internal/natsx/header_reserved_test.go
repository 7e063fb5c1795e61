package natsx

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go/jetstream"
)

// TestServerHeaderNamesAreEscaped: a metadata entry whose key is one of
// the JetStream server's own headers (Nats-Rollup, Nats-TTL,
// Nats-Schedule...) is user data, as a foreign producer's header is once
// consumed and forwarded (a DeadLetter copy): it must travel escaped and
// come back exactly, never act on the stream. Herald's streams that take
// delayed messages allow roll-ups (ensureSchedules), so a raw
// "Nats-Rollup: sub" purges every earlier message of the subject. The
// test publishes two messages, the second carrying such an entry, on a
// stream configured as ensureSchedules configures it, and wants both
// stored with their metadata intact.
func TestServerHeaderNamesAreEscaped(t *testing.T) {
	nc := inProcess(t, true)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "orders", Subjects: []string{"orders"}, AllowRollup: true, AllowMsgTTL: true})
	if err != nil {
		t.Fatal(err)
	}
	first := message.NewMessage("first", []byte("1"))
	second := message.NewMessage("second", []byte("2"))
	md := map[string]string{"Nats-Rollup": "sub", "Nats-TTL": "1s", "Nats-Schedule-TTL": "1s"}
	for k, v := range md {
		second.Metadata.Set(k, v)
	}
	for _, m := range []*message.Message{first, second} {
		nm, _ := Marshaler{}.Marshal("orders", m)
		if _, err := js.PublishMsg(ctx, nm); err != nil {
			t.Fatalf("publish %s: %v", m.UUID, err)
		}
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Fatalf("stream holds %d messages, want 2: a metadata entry acted as a server header", info.State.Msgs)
	}
	raw, err := st.GetMsg(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	got := Marshaler{}.decode(raw.Header, raw.Data, "")
	for k, v := range md {
		if got.Metadata[k] != v {
			t.Errorf("metadata %s = %q, want %q (all: %q)", k, got.Metadata[k], v, got.Metadata)
		}
	}
}
