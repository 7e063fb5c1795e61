package natsx

import (
	"strings"
	"testing"
)

func TestNameEncoding(t *testing.T) {
	for in, want := range map[string]string{
		"orders.created": "orders__created",
		"a-b_C9":         "a-b_5FC9",
		"ü.x/y z":        "_C3_BC__x_2Fy_20z",
	} {
		if got := StreamName(in); got != want {
			t.Errorf("StreamName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := GroupConsumerName("billing-eu", "orders.created", false); got != "billing-eu_-orders__created" {
		t.Errorf("GroupConsumerName = %q", got)
	}
}

// Every name Herald derives is valid for NATS and injective: names
// holding the separators of the encoding never collide.
func TestNamesInjective(t *testing.T) {
	parts := []string{
		"a", "b", "c", "a_b", "b_c", "a.b", "b.c", "a-b", "a__b", "a_-b", "a_2Eb", "a._b", "a_.b",
		"_", "__", ".", "-", "a_", "_b", "a.", "herald_p1", "p1", "1", "_x", "a_x0", "A", "ü", "a b", "a/b", "a\\b", "*", ">",
		strings.Repeat("g", 190), strings.Repeat("g", 190) + "1", strings.Repeat("g", 190) + "2",
		strings.Repeat("g.", 120), strings.Repeat("g.", 120) + "x", strings.Repeat("_", 120),
	}
	seen := map[string]string{}
	add := func(name, what string) {
		t.Helper()
		if !ValidName(name) {
			t.Errorf("%s gives the invalid name %q", what, name)
		}
		if prev, dup := seen[name]; dup {
			t.Errorf("%s and %s share the name %q", what, prev, name)
		}
		seen[name] = what
	}
	for _, g := range parts {
		add(GroupConsumerName(g, "", true), "group "+g+" (dedicated)")
		for _, tp := range parts {
			add(GroupConsumerName(g, tp, false), "group "+g+" topic "+tp)
		}
	}
	for _, id := range []string{"1", "2", "p1"} {
		add(PrivateConsumerName(id, "", true), "private "+id)
		for _, tp := range parts {
			add(PrivateConsumerName(id, tp, false), "private "+id+" topic "+tp)
		}
	}
	streams := map[string]string{}
	for _, tp := range parts {
		n := StreamName(tp)
		if !ValidName(n) {
			t.Errorf("stream of %q: invalid name %q", tp, n)
		}
		if prev, dup := streams[n]; dup {
			t.Errorf("topics %q and %q share the stream %q", prev, tp, n)
		}
		streams[n] = tp
	}
}

func TestLongNames(t *testing.T) {
	long := StreamName(string(make([]byte, 500)))
	if len(long) > maxName || !strings.Contains(long, hashMarker) {
		t.Errorf("long name has %d bytes (%q), want at most %d with a hash", len(long), long, maxName)
	}
	if a, b := StreamName(strings.Repeat("x", 300)+"a"), StreamName(strings.Repeat("x", 300)+"b"); a == b {
		t.Errorf("two long topics share the stream %q", a)
	}
}

func TestCheckTopic(t *testing.T) {
	for _, bad := range []string{"", "a..b", ".a", "a.", "a.*", "a.>", "a b", "a\tb"} {
		if CheckTopic(bad) == nil {
			t.Errorf("CheckTopic(%q) = nil", bad)
		}
	}
	for _, good := range []string{"a", "orders.created", "ünï.cødé", "a-b_c.d"} {
		if err := CheckTopic(good); err != nil {
			t.Errorf("CheckTopic(%q) = %v", good, err)
		}
	}
}

// TestCheckTopicRefusesScheduleSubjects: a topic under the schedule
// subjects of delayed delivery ("_herald_delay.<topic>.<nuid>") is
// refused: published, it would land in the other topic's stream among
// its schedules, and subscribed, a group would read another topic's
// delayed messages before their time.
func TestCheckTopicRefusesScheduleSubjects(t *testing.T) {
	for _, topic := range []string{scheduleSubject("orders"), schedulePattern("orders")[:len(schedulePattern("orders"))-2], "_herald_delay"} {
		if err := CheckTopic(topic); err == nil || !strings.Contains(err.Error(), "_herald_delay") {
			t.Errorf("CheckTopic(%q) = %v; want an error naming _herald_delay", topic, err)
		}
	}
	if err := CheckTopic("_herald_delayed.x"); err != nil {
		t.Errorf("CheckTopic(_herald_delayed.x) = %v; want nil", err)
	}
}
