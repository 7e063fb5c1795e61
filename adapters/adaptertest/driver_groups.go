package adaptertest

import "testing"

// testDriverPrepare: after Subscription.Prepare, messages published
// before the group's first Open are delivered to it. Durable and Groups.
func testDriverPrepare(t *testing.T, e *denv) {
	require(t, e.caps.Durable && e.caps.Groups, "Durable and Groups")
	topic := e.topic("dprepare")
	sub := e.openSub(e.names.group("dprepare"))
	if err := sub.Prepare(e.ctx(), topic); err != nil {
		t.Fatalf("Prepare(%q): %v", topic, err)
	}
	msgs := messages(3, "early")
	e.publish(t, e.openTopic(), topic, msgs...)
	e.openStream(sub, topic, 16).until(t, msgs)
}

// testDriverGroups: two subscriptions of one group share a topic's
// messages (together they receive each, few of them both), and a
// subscription of another group receives every message. Groups.
func testDriverGroups(t *testing.T, e *denv) {
	require(t, e.caps.Groups, "Groups")
	const n = 40
	topic := e.topic("dgroups")
	shared, other := e.names.group("dshared"), e.names.group("dother")
	a, b, o := newCollector(), newCollector(), newCollector()
	e.openStream(e.openSub(shared), topic, 8).drain(a)
	e.openStream(e.openSub(shared), topic, 8).drain(b)
	e.openStream(e.openSub(other), topic, 8).drain(o)
	msgs := messages(n, "grp")
	e.publish(t, e.openTopic(), topic, msgs...)
	o.waitIDs(t, e.wait(), ids(msgs))
	waitAny(t, e.wait(), "every message at one subscription of the group", eitherHas(a, b, ids(msgs)), a, b)
	// A group that copies instead of sharing shows once the slower
	// member catches up: watch for it a while.
	dup := 0
	watchAny(copyWatch, func() bool { dup = inBoth(a, b, ids(msgs)); return dup > n/4 }, a, b)
	if dup > n/4 {
		t.Errorf("%d of %d messages reached both subscriptions of one group; a group must share messages, not copy them", dup, n)
	}
	t.Logf("group split: A %d, B %d, both %d", a.distinct(), b.distinct(), dup)
}

// testDriverPrivate: two private subscriptions (group "") each receive
// every message published after their Open returned. Every driver.
func testDriverPrivate(t *testing.T, e *denv) {
	topic := e.topic("dprivate")
	a, b := newCollector(), newCollector()
	e.openStream(e.openSub(""), topic, 8).drain(a)
	e.openStream(e.openSub(""), topic, 8).drain(b)
	msgs := messages(10, "fan")
	e.publish(t, e.openTopic(), topic, msgs...)
	a.waitIDs(t, e.wait(), ids(msgs))
	b.waitIDs(t, e.wait(), ids(msgs))
}
