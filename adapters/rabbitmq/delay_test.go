package rabbitmq

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// topicMatch is AMQP topic matching: "*" one word, "#" zero or more.
func topicMatch(pattern, key string) bool {
	var match func(p, k []string) bool
	match = func(p, k []string) bool {
		switch {
		case len(p) == 0:
			return len(k) == 0
		case p[0] == "#":
			for i := 0; i <= len(k); i++ {
				if match(p[1:], k[i:]) {
					return true
				}
			}
			return false
		case len(k) == 0:
			return false
		case p[0] == "*" || p[0] == k[0]:
			return match(p[1:], k[1:])
		}
		return false
	}
	return match(strings.Split(pattern, "."), strings.Split(key, "."))
}

// TestDelayTiersRoute follows a delayed message through the tiers'
// bindings as the broker routes it: from the top tier's exchange, each
// exchange sends it to its queue (bit 1) or the next exchange (bit 0),
// each queue holds it for its TTL and dead-letters it to the next
// exchange, and the delivery exchange routes it to its topic only. The
// time spent is the delay in units, for random and extreme delays.
func TestDelayTiersRoute(t *testing.T) {
	const topic, other = "ct.orders.v1", "ct.orders"
	delays := []uint64{1, 2, 3, 1<<delayLevels - 1, 1 << (delayLevels - 1)}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		delays = append(delays, 1+r.Uint64N(1<<delayLevels-1))
	}
	for _, k := range delays {
		key := delayRoutingKey(k, topic)
		var waited time.Duration
		n := delayLevels - 1 // at tier n's exchange
		for n >= 0 {
			toQueue := topicMatch(tierPattern(n, "1"), key)
			toNext := topicMatch(tierPattern(n, "0"), key)
			if toQueue == toNext {
				t.Fatalf("k=%d at tier %d: to queue %v, to next %v; want exactly one", k, n, toQueue, toNext)
			}
			if toQueue {
				waited += delayUnit << n
			}
			n-- // the queue dead-letters, and the next binding forwards, to tier n-1
		}
		deliver := strings.Repeat("*.", delayLevels)
		if !topicMatch(deliver+topic, key) || topicMatch(deliver+other, key) {
			t.Fatalf("k=%d: the delivery exchange routes %q to %s %v, to %s %v", k, key, topic, topicMatch(deliver+topic, key), other, topicMatch(deliver+other, key))
		}
		if want := time.Duration(k) * delayUnit; waited != want {
			t.Fatalf("k=%d: waited %v in the tiers; want %v", k, waited, want)
		}
	}
}

// TestDelayUnitsRoundUp: a delay is rounded up to the unit, never down,
// so a message is never delivered before its time.
func TestDelayUnitsRoundUp(t *testing.T) {
	for d, want := range map[time.Duration]uint64{time.Nanosecond: 1, time.Second: 1, time.Second + 1: 2, 90 * time.Second: 90, delayMax: 1<<delayLevels - 1} {
		if got := delayUnits(d); got != want {
			t.Errorf("delayUnits(%v) = %d; want %d", d, got, want)
		}
	}
	for _, topic := range []string{"a.*.b", "#", strings.Repeat("x", 208)} {
		if checkDelayTopic(topic) == nil {
			t.Errorf("checkDelayTopic(%q) = nil; want a refusal", topic)
		}
	}
	if err := checkDelayTopic(strings.Repeat("x", 207)); err != nil {
		t.Errorf("a 207-byte topic: %v", err)
	}
}
