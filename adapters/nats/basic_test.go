package nats_test

import (
	"testing"
	"time"

	"github.com/heraldkit/herald"
	_ "github.com/heraldkit/herald/adapters/nats"
)

func TestRoundTripMetadata(t *testing.T) {
	for _, mode := range []string{"jetstream", "core"} {
		t.Run(mode, func(t *testing.T) {
			u := withQuery(brokerURL(t), "mode="+mode)
			tp := topic(t)
			sub := openSub(t, u)
			ch := subscribe(t, sub, tp)
			pub := openPub(t, u)
			m := herald.NewMessage([]byte("hello\x00\xff"))
			herald.SetKey(m, "order-1")
			md := map[string]string{
				"plain":                   "v",
				"unicode-é":               "värde ✓",
				"with space":              " lead and trail ",
				"eq=colon:":               "a=b:c",
				"newline":                 "line1\nline2\r\nline3",
				"":                        "empty key",
				"empty":                   "",
				"Nats-Msg-Id":             "user value",
				"Herald-Enc-x":            "looks encoded",
				"_watermill_message_uuid": "x",
			}
			for k, v := range md {
				m.Metadata.Set(k, v)
			}
			if err := pub.Publish(tp, m); err != nil {
				t.Fatal(err)
			}
			got := receive(t, ch, 1, 10*time.Second)[0]
			if got.UUID != m.UUID {
				t.Errorf("id %q, want %q", got.UUID, m.UUID)
			}
			if string(got.Payload) != string(m.Payload) {
				t.Errorf("payload %q", got.Payload)
			}
			for k, v := range m.Metadata {
				if got.Metadata.Get(k) != v {
					t.Errorf("metadata %q = %q, want %q", k, got.Metadata.Get(k), v)
				}
			}
			if len(got.Metadata) != len(m.Metadata) {
				t.Errorf("metadata %v, want %v", got.Metadata, m.Metadata)
			}
		})
	}
}
