package embedded_test

import (
	"testing"
	"time"

	"github.com/heraldkit/herald/adapters/internal/natsx/natsxtest"
)

// Groups and topics whose names differ only around the separators of
// the derived consumer names get consumers of their own: on a shared
// stream, group "a_b" of topic "c" and group "a" of topic "b_c" each get
// their topic's messages only.
func TestNamesWithSeparatorsSharedStream(t *testing.T) {
	f := fixture(t.TempDir(), "stream=ALL")
	c := natsxtest.OpenStream(t, f.OpenSubscription(t, "a_b", ""), "c", 8, nil)
	bc := natsxtest.OpenStream(t, f.OpenSubscription(t, "a", ""), "b_c", 8, nil)
	want := publishN(t, f.OpenTopic(t, ""), "b_c", 3, "bc")
	if got := receiveIDs(t, bc, 3, 10*time.Second); !equal(got, want) {
		t.Errorf("group a on b_c got %v, want %v", got, want)
	}
	natsxtest.NoDelivery(t, c, 300*time.Millisecond)
}

// Two groups whose names map to the same characters ("a.b" and "a_b")
// each get every message of a topic on its own stream.
func TestNamesWithSeparatorsGroups(t *testing.T) {
	f := fixture(t.TempDir(), "")
	tp := topic()
	g1 := natsxtest.OpenStream(t, f.OpenSubscription(t, "a.b", ""), tp, 8, nil)
	g2 := natsxtest.OpenStream(t, f.OpenSubscription(t, "a_b", ""), tp, 8, nil)
	want := publishN(t, f.OpenTopic(t, ""), tp, 4, "g")
	if got := receiveIDs(t, g1, 4, 10*time.Second); !equal(got, want) {
		t.Errorf("group a.b got %v, want %v", got, want)
	}
	if got := receiveIDs(t, g2, 4, 10*time.Second); !equal(got, want) {
		t.Errorf("group a_b got %v, want %v", got, want)
	}
}

// Topics "x.y" and "x_y" each get a stream of their own.
func TestNamesWithSeparatorsStreams(t *testing.T) {
	f := fixture(t.TempDir(), "")
	sub := f.OpenSubscription(t, "g", "")
	a := natsxtest.OpenStream(t, sub, "x.y", 8, nil)
	b := natsxtest.OpenStream(t, sub, "x_y", 8, nil)
	pub := f.OpenTopic(t, "")
	wa := publishN(t, pub, "x.y", 2, "a")
	wb := publishN(t, pub, "x_y", 2, "b")
	if got := receiveIDs(t, a, 2, 10*time.Second); !equal(got, wa) {
		t.Errorf("x.y got %v, want %v", got, wa)
	}
	if got := receiveIDs(t, b, 2, 10*time.Second); !equal(got, wb) {
		t.Errorf("x_y got %v, want %v", got, wb)
	}
}
