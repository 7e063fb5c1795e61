package adaptertest

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald"
)

// testRoundTrip: payload, ID, key and metadata arrive unchanged, for
// binary, empty and large payloads (up to 1 MiB, or near
// Capabilities.MaxMessageSize when that is less) and awkward metadata;
// the subscriber's Health is nil meanwhile. The handler's
// herald.Delivery.Time, when set, is the publish (or store) time: within
// the publish calls, give or take a second of AMQP's whole-second
// timestamps and clock skew; every durable backend sets it.
func testRoundTrip(t *testing.T, e *env) {
	topic := e.topic("roundtrip")
	ready, readyCh := readyOption()
	sub := e.subscriber(e.group("rt"), ready)
	c := newCollector()
	e.subscribe(sub, readyCh, topic, c.handler)
	pub := e.publisher()

	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	large := largePayload(e.caps.MaxMessageSize)
	big := bytes.Repeat([]byte("herald-"), large/7+1)[:large]
	metadata := map[string]string{
		"unicode-ключ-鍵":  "значение ✓ 値",
		"with space":      "a value with spaces",
		"equals":          "a=b=c",
		"colon":           "k: v: w",
		"newline":         "line one\nline two\r\nline three",
		"x-empty-ish":     " ",
		"trace.like-key_": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
	}
	cases := []struct {
		name    string
		payload []byte
	}{
		{"binary", binary},
		{"empty", []byte{}},
		{"large", big},
		{"text", []byte(`{"order":1234,"note":"ünïcødé"}`)},
	}
	sent := map[string]*herald.Message{}
	var ids []string
	start := time.Now()
	for _, tc := range cases {
		m := herald.NewMessage(tc.payload)
		herald.SetKey(m, "key-"+tc.name)
		for k, v := range metadata {
			m.Metadata.Set(k, v)
		}
		m.Metadata.Set("case", tc.name)
		sent[m.UUID] = m
		ids = append(ids, m.UUID)
		if err := pub.Publish(context.Background(), topic, m); err != nil {
			t.Fatalf("Publish %s (%d bytes): %v", tc.name, len(tc.payload), err)
		}
	}
	end := time.Now()
	c.waitIDs(t, e.wait(), ids)
	if err := sub.Health(); err != nil {
		t.Errorf("Health of a subscriber receiving = %v; want nil", err)
	}
	for _, got := range c.snapshot() {
		want, ok := sent[got.ID]
		if !ok {
			t.Errorf("received unknown message ID %q (metadata %v)", got.ID, got.Metadata)
			continue
		}
		name := want.Metadata.Get("case")
		if !bytes.Equal(got.Payload, want.Payload) {
			t.Errorf("%s: payload differs: got %d bytes, want %d", name, len(got.Payload), len(want.Payload))
		}
		switch {
		case got.Time.IsZero() && e.caps.Timestamps:
			t.Errorf("%s: Delivery.Time is zero on a backend that declares Timestamps; want the publish time", name)
		case !got.Time.IsZero() && (got.Time.Before(start.Add(-2*time.Second)) || got.Time.After(end.Add(2*time.Second))):
			t.Errorf("%s: Delivery.Time = %v; want the publish time, between %v and %v (±2s)", name, got.Time, start, end)
		}
		if k := got.Metadata[herald.KeyHeader]; k != "key-"+name {
			t.Errorf("%s: key = %q, want %q", name, k, "key-"+name)
		}
		for k, v := range want.Metadata {
			if got.Metadata[k] != v {
				t.Errorf("%s: metadata[%q] = %q, want %q", name, k, got.Metadata[k], v)
			}
		}
	}
}

// largePayload is the large payload's size in testRoundTrip: 1 MiB, or
// 64 KiB under max (Capabilities.MaxMessageSize, payload plus headers)
// when that is less, leaving room for the metadata.
func largePayload(max int) int {
	const mib = 1 << 20
	switch {
	case max <= 0 || max >= mib+64<<10:
		return mib
	case max > 128<<10:
		return max - 64<<10
	}
	return max / 2
}

// testManyTopics: several topics at once, each subscriber gets exactly its
// own topic's messages.
func testManyTopics(t *testing.T, e *env) {
	const topics, perTopic = 6, 20
	pub := e.publisher()
	type lane struct {
		topic string
		c     *collector
		ids   []string
	}
	lanes := make([]*lane, topics)
	for i := range lanes {
		l := &lane{topic: e.topic(fmt.Sprintf("many%d", i)), c: newCollector()}
		ready, readyCh := readyOption()
		sub := e.subscriber(e.group("many"), ready)
		e.subscribe(sub, readyCh, l.topic, l.c.handler)
		lanes[i] = l
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, l := range lanes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids := publishN(t, pub, l.topic, perTopic, l.topic)
			mu.Lock()
			l.ids = ids
			mu.Unlock()
		}()
	}
	wg.Wait()
	for _, l := range lanes {
		l.c.waitIDs(t, e.wait(), l.ids)
		for _, r := range l.c.snapshot() {
			if !bytes.HasPrefix(r.Payload, []byte(l.topic+"-")) {
				t.Errorf("subscriber of %q got a message of another topic: %q", l.topic, r.Payload)
			}
		}
	}
}

// testConcurrentPublishers: many goroutines publish on one publisher; every
// message arrives.
func testConcurrentPublishers(t *testing.T, e *env) {
	const publishers, each = 8, 40
	topic := e.topic("concpub")
	ready, readyCh := readyOption()
	sub := e.subscriber(e.group("cp"), ready)
	c := newCollector()
	e.subscribe(sub, readyCh, topic, c.handler)
	pub := e.publisher()
	var mu sync.Mutex
	var all []string
	var wg sync.WaitGroup
	for i := 0; i < publishers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids := publishN(t, pub, topic, each, fmt.Sprintf("p%d", i))
			mu.Lock()
			all = append(all, ids...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	c.waitIDs(t, e.wait(), all)
}

// testOneSubscriberManyTopics: one subscriber serves Subscribe calls for
// several topics at once, each getting only its own topic's messages.
func testOneSubscriberManyTopics(t *testing.T, e *env) {
	const topics, perTopic = 3, 10
	ready, readyCh := readyOption()
	sub := e.subscriber(e.group("onesub"), ready)
	pub := e.publisher()
	names := make([]string, topics)
	cs := make([]*collector, topics)
	for i := range names {
		names[i], cs[i] = e.topic(fmt.Sprintf("onesub%d", i)), newCollector()
		e.subscribe(sub, readyCh, names[i], cs[i].handler)
	}
	for i, name := range names {
		ids := publishN(t, pub, name, perTopic, name)
		cs[i].waitIDs(t, e.wait(), ids)
	}
	for i, c := range cs {
		for _, r := range c.snapshot() {
			if !bytes.HasPrefix(r.Payload, []byte(names[i]+"-")) {
				t.Errorf("Subscribe(%q) got a message of another topic: %q", names[i], r.Payload)
			}
		}
	}
}
