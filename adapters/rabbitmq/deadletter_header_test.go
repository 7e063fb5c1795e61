package rabbitmq

import (
	"testing"
	"time"
)

// TestDeadLetterHeaderMetadataSurvivesDelay (attack18b): RabbitMQ keeps
// its dead-lettering record in the headers x-death, x-first-death-* and
// x-last-death-*, and Herald's delay tiers dead-letter every delayed
// message. A metadata entry so named (a message consumed from a
// dead-letter queue and published again by a bridge or DeadLetter keeps
// them) must be published, delayed and come back exactly, and the
// message must arrive at all.
func TestDeadLetterHeaderMetadataSurvivesDelay(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "g", "")) })
	sub := openSubT(t, withQuery(url, "group=g"))
	if err := sub.Prepare(t.Context(), topic); err != nil {
		t.Fatal(err)
	}
	st := openStreamT(t, sub, topic, 8, nil)
	tp := openTopicT(t, url)
	want := map[string]string{"x-death": "from another queue", "x-first-death-queue": "orders", "x-last-death-reason": "rejected"}
	for _, delayed := range []bool{false, true} {
		m := newMsg("x")
		for k, v := range want {
			m.Metadata.Set(k, v)
		}
		var err error
		if delayed {
			err = sendAtWait(t, tp, topic, m, time.Now().Add(time.Second))
		} else {
			err = sendWait(t, tp, t.Context(), topic, m)
		}
		if err != nil {
			t.Fatalf("delayed %v: %v", delayed, err)
		}
		r := receiveAcked(t, st, 1, 30*time.Second)[0]
		for k, v := range want {
			if got := r.Msg.Metadata.Get(k); got != v {
				t.Errorf("delayed %v: metadata %s = %q; want %q (all: %v)", delayed, k, got, v, r.Msg.Metadata)
			}
		}
	}
}
