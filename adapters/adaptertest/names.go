package adaptertest

import (
	"strings"
	"testing"
)

// testDerivedNamesAreInjective: the names a backend derives from a topic
// and a group (queues, streams, consumers, group IDs) never let two
// different pairs meet, separators included. Topic T with group
// "eu<sep>G" and topic "T<sep>eu" with group G would share the queue
// "T<sep>eu<sep>G" if the names were joined with sep: then a subscriber of
// T would receive "T<sep>eu"'s messages (and take them from their
// subscriber).
func testDerivedNamesAreInjective(t *testing.T, e *env) {
	for _, sep := range []string{".", "_", "-"} {
		t.Run("separator"+sep, func(t *testing.T) {
			t.Parallel()
			e := e.in(t)
			base, g := e.topic("names"), e.group("billing")
			a := struct{ topic, group string }{base, "eu" + sep + g}
			b := struct{ topic, group string }{base + sep + "eu", g}
			e.names.add(&e.names.topics, b.topic) // for Suite.Cleanup
			e.names.add(&e.names.groups, a.group)
			ca, cb := newCollector(), newCollector()
			for _, s := range []struct {
				topic, group string
				c            *collector
			}{{a.topic, a.group, ca}, {b.topic, b.group, cb}} {
				ready, readyCh := readyOption()
				e.subscribe(e.subscriber(s.group, ready), readyCh, s.topic, s.c.handler)
			}
			// Each message reaches one of the two subscribers; where the
			// names collide, some reach the wrong one.
			pub := e.publisher()
			idsB := publishN(t, pub, b.topic, 6, "b")
			waitAny(t, e.wait(), "the messages published to "+b.topic, eitherHas(ca, cb, idsB), ca, cb)
			// Then a's own: a's subscriber has had the time to take any of
			// b's that its queue or consumer shares.
			idsA := publishN(t, pub, a.topic, 2, "a")
			waitAny(t, e.wait(), "the messages published to "+a.topic, eitherHas(ca, cb, idsA), ca, cb)
			for _, r := range ca.snapshot() {
				if !strings.HasPrefix(string(r.Payload), "a-") {
					t.Errorf("subscriber of %q (group %q) received %q, published to %q (group %q's topic): derived names collide",
						a.topic, a.group, r.Payload, b.topic, b.group)
				}
			}
			for _, r := range cb.snapshot() {
				if !strings.HasPrefix(string(r.Payload), "b-") {
					t.Errorf("subscriber of %q (group %q) received %q, published to %q", b.topic, b.group, r.Payload, a.topic)
				}
			}
		})
	}
}
