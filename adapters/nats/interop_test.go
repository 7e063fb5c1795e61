package nats_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters/internal/natsx"
	"github.com/heraldkit/herald/adapters/internal/natsx/natsxtest"
)

func rawConn(t *testing.T) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	u := brokerURL(t)
	nc, err := nats.Connect(u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// TestInteropFromNATSClient: a message published with plain nats.go, as
// the nats CLI does (headers, no message ID), is consumed by Herald, on
// JetStream and core NATS.
func TestInteropFromNATSClient(t *testing.T) {
	nc, js := rawConn(t)
	t.Run("jetstream", func(t *testing.T) {
		tp := topic(t)
		st := natsxtest.OpenStream(t, fixture(t, "", "").OpenSubscription(t, "interop", ""), tp, 4, nil) // provisions the stream
		m := nats.NewMsg(tp)
		m.Data = []byte("from the cli")
		m.Header.Set("Source", "nats-cli")
		m.Header.Set(herald.KeyHeader, "k1")
		ack, err := js.PublishMsg(context.Background(), m)
		if err != nil {
			t.Fatal(err)
		}
		d := natsxtest.ReceiveN(t, st, 1, 10*time.Second)[0]
		st.Ack(d.Token)
		got := d.Msg
		if string(got.Payload) != "from the cli" || got.Metadata.Get("Source") != "nats-cli" || herald.Key(got) != "k1" || d.Key != "k1" {
			t.Fatalf("got %q %v key %q", got.Payload, got.Metadata, d.Key)
		}
		if want := ack.Stream + ":" + strconv.FormatUint(ack.Sequence, 10); got.UUID != want {
			t.Errorf("ID of a message without one = %q, want the stable %q", got.UUID, want)
		}
	})
	t.Run("core", func(t *testing.T) {
		tp := topic(t)
		st := natsxtest.OpenStream(t, fixture(t, "", "mode=core").OpenSubscription(t, "", ""), tp, 4, nil)
		if err := nc.Publish(tp, []byte("plain")); err != nil {
			t.Fatal(err)
		}
		d := natsxtest.ReceiveN(t, st, 1, 10*time.Second)[0]
		st.Ack(d.Token)
		got := d.Msg
		if string(got.Payload) != "plain" || got.UUID == "" {
			t.Fatalf("got %q id %q", got.Payload, got.UUID)
		}
	})
}

// TestInteropToNATSClient: what Herald publishes is readable with plain
// nats.go: metadata as headers, the ID as _watermill_message_uuid and in
// Nats-Msg-Id with the subject, the key as herald-key, awkward values
// encoded.
func TestInteropToNATSClient(t *testing.T) {
	_, js := rawConn(t)
	tp := topic(t)
	pub := fixture(t, "", "").OpenTopic(t, "")
	m := herald.NewMessage([]byte("to the cli"))
	herald.SetKey(m, "order-7")
	m.Metadata.Set("tenant", "acme")
	m.Metadata.Set("note", "two\nlines")
	natsxtest.MustPublish(t, pub, tp, m)
	name, err := js.StreamNameBySubject(context.Background(), tp)
	if err != nil {
		t.Fatal(err)
	}
	if name != natsx.StreamName(tp) {
		t.Errorf("stream %q, want %q", name, natsx.StreamName(tp))
	}
	st, err := js.Stream(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := st.GetLastMsgForSubject(context.Background(), tp)
	if err != nil {
		t.Fatal(err)
	}
	h := raw.Header
	if h.Get(nats.MsgIdHdr) != m.UUID+" "+tp || h.Get("_watermill_message_uuid") != m.UUID || h.Get(herald.KeyHeader) != "order-7" || h.Get("tenant") != "acme" || string(raw.Data) != "to the cli" {
		t.Errorf("headers %v data %q", h, raw.Data)
	}
	if h.Get("note") != "" || h.Get(natsx.EncodedPrefix+"bm90ZQ") != "dHdvCmxpbmVz" {
		t.Errorf("a value with a newline should travel encoded: %v", h)
	}
	// JetStream de-duplicates a resend of the same message.
	natsxtest.MustPublish(t, pub, tp, m)
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Errorf("stream holds %d messages after a resend, want 1 (Nats-Msg-Id de-duplication)", info.State.Msgs)
	}
}
