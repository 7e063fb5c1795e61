package rabbitmq

import (
	"testing"
	"time"
)

// TestRoutingHeaderMetadataTravels (issue 18 item 5, attack18b): RabbitMQ
// reads the headers "CC" and "BCC" as sender-selected distribution
// (extra routing keys, an array of strings; BCC is removed before
// delivery) and fails the publish with a channel error when either is a
// plain string. A metadata entry so named (an e-mail bridge's, a foreign
// message forwarded by DeadLetter) must be published and come back
// exactly, like every other metadata entry, and the Topic must keep
// publishing afterwards.
func TestRoutingHeaderMetadataTravels(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	tp := openTopicT(t, url)
	sub := openSubT(t, withQuery(url, "group=cc"))
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "cc", "")) })
	st := openStreamT(t, sub, topic, 8, nil)

	m := newMsg("mail")
	m.Metadata.Set("CC", "audit@example.com")
	m.Metadata.Set("BCC", "boss@example.com")
	if err := sendWait(t, tp, t.Context(), topic, m); err != nil {
		t.Fatalf("publish with metadata CC and BCC: %v", err)
	}
	if err := sendWait(t, tp, t.Context(), topic, newMsg("after")); err != nil {
		t.Fatalf("the next publish on the Topic: %v", err)
	}
	rs := receiveAcked(t, st, 2, 20*time.Second)
	got := rs[0].Msg.Metadata
	for k, v := range map[string]string{"CC": "audit@example.com", "BCC": "boss@example.com"} {
		if got.Get(k) != v {
			t.Errorf("metadata %s = %q; want %q (all: %v)", k, got.Get(k), v, got)
		}
	}
	if string(rs[1].Msg.Payload) != "after" {
		t.Errorf("second delivery %q; want after", rs[1].Msg.Payload)
	}
}
