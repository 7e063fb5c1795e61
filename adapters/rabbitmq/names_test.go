package rabbitmq

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestQueueNamesInjective: no two (topic, group) pairs, nor a pair and a
// private queue, share a queue name, whatever separators they contain.
func TestQueueNamesInjective(t *testing.T) {
	parts := []string{"a", ".", "%", "%2E", "%25", "private-x", ".%private-x", "b.c", "~"}
	var names []string
	var build func(prefix string, depth int)
	build = func(prefix string, depth int) {
		if prefix != "" {
			names = append(names, prefix)
		}
		if depth == 0 {
			return
		}
		for _, p := range parts {
			build(prefix+p, depth-1)
		}
	}
	build("", 2)
	seen := map[string]string{}
	add := func(q, what string) {
		t.Helper()
		if prev, dup := seen[q]; dup && prev != what {
			t.Fatalf("queue %q is derived from both %s and %s", q, prev, what)
		}
		seen[q] = what
	}
	for _, topic := range names {
		for _, group := range names {
			add(queueName(topic, group, ""), "topic "+topic+" group "+group)
		}
		add(queueName(topic, "", "x"), "topic "+topic+" private x")
	}
	if a, b := queueName("ordersN", "eu.billing", ""), queueName("ordersN.eu", "billing", ""); a == b {
		t.Fatalf("ordersN/eu.billing and ordersN.eu/billing share %q", a)
	}
}

// TestQueueNamesReadable: the common case keeps the readable
// "<topic>.<group>" name.
func TestQueueNamesReadable(t *testing.T) {
	for _, c := range []struct{ topic, group, want string }{
		{"orders", "billing", "orders.billing"},
		{"orders.eu", "billing", "orders.eu.billing"},
		{"orders", "eu.billing", "orders.eu%2Ebilling"},
		{"orders", "100%", "orders.100%25"},
	} {
		if got := queueName(c.topic, c.group, ""); got != c.want {
			t.Errorf("queueName(%q, %q) = %q, want %q", c.topic, c.group, got, c.want)
		}
	}
}

// TestQueueNamesLong: names over RabbitMQ's 255 bytes are shortened with
// a hash, stay valid UTF-8 and stay distinct.
func TestQueueNamesLong(t *testing.T) {
	topic := strings.Repeat("é", 120) // 240 bytes
	seen := map[string]bool{}
	for _, group := range []string{"g1", "g2", strings.Repeat("x", 200), strings.Repeat("x", 199) + "y", ""} {
		q := queueName(topic, group, "01jabcdefghjkmnpqrstvwxyz0")
		if len(q) > maxNameLen || !utf8.ValidString(q) {
			t.Errorf("queue for group %q: %d bytes, valid UTF-8 %v", group, len(q), utf8.ValidString(q))
		}
		if seen[q] {
			t.Errorf("queue %q derived twice", q)
		}
		seen[q] = true
	}
}

// TestTopicNamesChecked: topics RabbitMQ cannot take as an exchange name
// are refused before anything is sent, naming the rule.
func TestTopicNamesChecked(t *testing.T) {
	for topic, want := range map[string]string{
		"":                       "empty",
		"amq.orders":             "reserved",
		strings.Repeat("t", 256): "255",
		"bad\xffutf8":            "UTF-8",
	} {
		err := checkTopic(topic)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("topic %.20q: %v; want an error mentioning %q", topic, err, want)
		}
	}
	if err := checkTopic("orders.eu"); err != nil {
		t.Errorf("orders.eu: %v", err)
	}
}

// TestGroupQueuesDoNotCollide: topic ordersN with group eu.billing and
// topic ordersN.eu with group billing have their own queues: the
// subscriber of ordersN receives none of ordersN.eu's messages.
func TestGroupQueuesDoNotCollide(t *testing.T) {
	url := brokerURL(t)
	base := freshTopic(t)
	topicA, topicB := base+"N", base+"N.eu"
	t.Cleanup(func() {
		deleteTopology(t, topicA, queueName(topicA, "eu.billing", ""))
		deleteTopology(t, topicB, queueName(topicB, "billing", ""))
	})
	subA := openSubT(t, withQuery(url, "group=eu.billing"))
	subB := openSubT(t, withQuery(url, "group=billing"))
	stA := openStreamT(t, subA, topicA, 8, nil)
	stB := openStreamT(t, subB, topicB, 8, nil)
	tp := openTopicT(t, url)
	publishN(t, tp, topicB, 6)
	for _, r := range receiveN(t, stB, 6, 10*time.Second) {
		stB.Ack(r.Token)
	}
	// The first message A gets must be the one published to its own topic.
	if err := sendWait(t, tp, t.Context(), topicA, newMsg("a")); err != nil {
		t.Fatal(err)
	}
	r := receiveN(t, stA, 1, 10*time.Second)[0]
	stA.Ack(r.Token)
	if string(r.Msg.Payload) != "a" {
		t.Fatalf("the subscriber of %s (group eu.billing) received %q, published to %s", topicA, r.Msg.Payload, topicB)
	}
}

// TestTopicRefusesDelayTierNames: a topic named like a delay tier's
// exchange ("herald.delay.tier.3", "herald.delay.deliver") is refused:
// as a topic it would be declared a fanout exchange, so the tiers could
// not be declared on the vhost (or its publish would fail), and its
// group's queue would be bound where the tiers route delayed messages.
func TestTopicRefusesDelayTierNames(t *testing.T) {
	for _, topic := range []string{tierExchange(3), delayDeliver, delayPrefix + "x"} {
		if err := checkTopic(topic); err == nil || !strings.Contains(err.Error(), delayPrefix) {
			t.Errorf("checkTopic(%q) = %v; want an error naming %q", topic, err, delayPrefix)
		}
	}
	if err := checkTopic("herald.delayed"); err != nil {
		t.Errorf("checkTopic(herald.delayed) = %v; want nil", err)
	}
}
