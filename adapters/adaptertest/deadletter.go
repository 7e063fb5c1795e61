package adaptertest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/middleware"
	"github.com/heraldkit/herald/subscriber"
)

// errPoison is what the dead-letter tests' handler fails with.
var errPoison = errors.New("adaptertest: poison message (deliberate)")

// sharedStream returns e on s.SharedStreamTarget, or skips.
func (e *env) sharedStream(t *testing.T) *env {
	t.Helper()
	if e.suite.SharedStreamTarget == "" {
		t.Skip("backend has no store shared by several topics (Suite.SharedStreamTarget is empty)")
	}
	s := e.suite
	s.Target = s.SharedStreamTarget
	return newEnv(t, s)
}

// testDeadLetter: with middleware.DeadLetter and Retry, a message that
// fails for good (at once with herald.Permanent, or after its retries)
// reaches "{topic}.dlq" as a copy with an ID of its own and the
// dead-letter metadata (original ID, topic, group, backend, error,
// reason, attempts); the other messages are handled. Nothing is lost.
func testDeadLetter(t *testing.T, e *env) { deadLetter(t, e) }

// testDeadLetterSharedStream: the same with one stream holding both the
// topic and its dead-letter topic (issue 7: JetStream dropped the copy as
// a duplicate of the original and reported success).
func testDeadLetterSharedStream(t *testing.T, e *env) { deadLetter(t, e.sharedStream(t)) }

func deadLetter(t *testing.T, e *env) {
	const attempts = 3
	topic, group := e.topic("dlq"), e.group("dlq")
	dlqTopic := topic + ".dlq"
	pub := e.publisher()

	// The dead-letter topic's subscriber first: a backend that is not
	// durable keeps nothing published before it.
	dlReady, dlReadyCh := readyOption()
	dead := newCollector()
	e.subscribe(e.subscriber(e.group("dlq-ops"), dlReady), dlReadyCh, dlqTopic, dead.handler)

	good := newCollector()
	ready, readyCh := readyOption()
	sub := e.subscriber(group, ready, subscriber.WithMiddleware(
		middleware.DeadLetter(pub, "{topic}.dlq"),
		middleware.Retry(middleware.MaxAttempts(attempts), middleware.InitialDelay(time.Millisecond)),
	))
	e.subscribe(sub, readyCh, topic, func(ctx context.Context, m *herald.Message) error {
		switch string(m.Payload) {
		case "poison-permanent":
			return herald.Permanent(errPoison)
		case "poison-retried":
			return errPoison
		}
		return good.handler(ctx, m)
	})

	sent := map[string]*herald.Message{}
	var goodIDs []string
	for i, p := range []string{"good-0", "poison-permanent", "good-1", "poison-retried", "good-2"} {
		m := herald.NewMessage([]byte(p))
		herald.SetKey(m, "key-"+strconv.Itoa(i))
		m.Metadata.Set("app-header", p)
		sent[m.UUID] = m
		if strings.HasPrefix(p, "good") {
			goodIDs = append(goodIDs, m.UUID)
		}
		if err := pub.Publish(context.Background(), topic, m); err != nil {
			t.Fatalf("Publish %s to %q: %v", p, topic, err)
		}
	}
	good.waitIDs(t, e.wait(), goodIDs)
	byOriginal := func() map[string]received {
		out := map[string]received{}
		for _, r := range dead.snapshot() {
			out[r.Metadata[middleware.DLQOriginalIDHeader]] = r
		}
		return out
	}
	dead.waitUntil(t, e.wait(), "both poison messages on "+dlqTopic, func() bool {
		got := byOriginal()
		n := 0
		for id, m := range sent {
			if _, ok := got[id]; ok && strings.HasPrefix(string(m.Payload), "poison") {
				n++
			}
		}
		return n == 2
	})
	for id, dl := range byOriginal() {
		orig, ok := sent[id]
		if !ok {
			t.Errorf("%s got a message whose %s is %q, not one of the published IDs (metadata %v)", dlqTopic, middleware.DLQOriginalIDHeader, id, dl.Metadata)
			continue
		}
		name := string(orig.Payload)
		if !strings.HasPrefix(name, "poison") {
			t.Errorf("%s was dead-lettered; the handler acked it", name)
			continue
		}
		if dl.ID == id || dl.ID == "" {
			t.Errorf("%s: dead-lettered copy has ID %q; want an ID of its own (the original's is %q)", name, dl.ID, id)
		}
		if string(dl.Payload) != name || dl.Metadata[herald.KeyHeader] != herald.Key(orig) || dl.Metadata["app-header"] != name {
			t.Errorf("%s: copy differs from the original: payload %q, key %q, app-header %q", name, dl.Payload, dl.Metadata[herald.KeyHeader], dl.Metadata["app-header"])
		}
		wantAttempts, wantReason := "1", middleware.DLQReasonPermanent
		if name == "poison-retried" {
			wantAttempts, wantReason = strconv.Itoa(attempts), middleware.DLQReasonExhausted
		}
		for h, want := range map[string]string{
			middleware.DLQTopicHeader:    topic,
			middleware.DLQGroupHeader:    group,
			middleware.DLQBackendHeader:  e.cfg.Scheme,
			middleware.DLQAttemptsHeader: wantAttempts,
			middleware.DLQReasonHeader:   wantReason,
		} {
			if got := dl.Metadata[h]; got != want {
				t.Errorf("%s: %s = %q; want %q", name, h, got, want)
			}
		}
		if got := dl.Metadata[middleware.DLQErrorHeader]; !strings.Contains(got, errPoison.Error()) {
			t.Errorf("%s: %s = %q; want it to contain %q", name, middleware.DLQErrorHeader, got, errPoison.Error())
		}
	}
}

// testSameIDOnTwoTopics: a message published with one ID to two topics
// (as a republisher may do) is delivered on both, or the second Publish
// fails: a Publish that returns nil has stored the message.
func testSameIDOnTwoTopics(t *testing.T, e *env) { sameIDOnTwoTopics(t, e) }

// testSameIDOnTwoTopicsSharedStream: the same when one stream holds both
// topics (JetStream answers a duplicate ID within its window with a
// PubAck marked Duplicate for a message stored under another subject).
func testSameIDOnTwoTopicsSharedStream(t *testing.T, e *env) { sameIDOnTwoTopics(t, e.sharedStream(t)) }

func sameIDOnTwoTopics(t *testing.T, e *env) {
	first := e.topic("sameid")
	second := first + ".dlq" // captured by the same stream as first
	pub := e.publisher()
	cs := map[string]*collector{first: newCollector(), second: newCollector()}
	for _, topic := range []string{first, second} {
		ready, readyCh := readyOption()
		e.subscribe(e.subscriber(e.group("sameid"), ready), readyCh, topic, cs[topic].handler)
	}
	m := herald.NewMessage([]byte("same id, two topics"))
	if err := pub.Publish(context.Background(), first, m); err != nil {
		t.Fatalf("Publish to %q: %v", first, err)
	}
	cs[first].waitIDs(t, e.wait(), []string{m.UUID})
	again := m.Copy() // same ID
	if err := pub.Publish(context.Background(), second, again); err != nil {
		// Refusing is allowed; claiming success for a dropped message is not.
		if !strings.Contains(err.Error(), second) {
			t.Errorf("Publish to %q failed with %v; the error must name the topic", second, err)
		}
		t.Logf("Publish of an ID already stored under %q to %q refused: %v", first, second, err)
		return
	}
	cs[second].waitUntil(t, e.wait(), fmt.Sprintf("the message Publish to %q reported stored", second), func() bool {
		return cs[second].has(m.UUID)
	})
}
