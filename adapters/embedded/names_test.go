package embedded_test

import (
	"testing"
	"time"
)

// Groups and topics whose names differ only around the separators of
// the derived consumer names get consumers of their own: on a shared
// stream, group "a_b" of topic "c" and group "a" of topic "b_c" each get
// their topic's messages only.
func TestNamesWithSeparatorsSharedStream(t *testing.T) {
	dir := t.TempDir()
	base := target(dir, "stream=ALL")
	c := subscribe(t, openSub(t, base+"&group=a_b"), "c")
	bc := subscribe(t, openSub(t, base+"&group=a"), "b_c")
	pub := openPub(t, base)
	want := publishN(t, pub, "b_c", 3, "bc")
	if got := receive(t, bc, 3, 10*time.Second); !equal(got, want) {
		t.Errorf("group a on b_c got %v, want %v", got, want)
	}
	none(t, c, 300*time.Millisecond)
}

// Two groups whose names map to the same characters ("a.b" and "a_b")
// each get every message of a topic on its own stream.
func TestNamesWithSeparatorsGroups(t *testing.T) {
	dir := t.TempDir()
	tp := topic()
	g1 := subscribe(t, openSub(t, target(dir, "group=a.b")), tp)
	g2 := subscribe(t, openSub(t, target(dir, "group=a_b")), tp)
	want := publishN(t, openPub(t, target(dir, "")), tp, 4, "g")
	if got := receive(t, g1, 4, 10*time.Second); !equal(got, want) {
		t.Errorf("group a.b got %v, want %v", got, want)
	}
	if got := receive(t, g2, 4, 10*time.Second); !equal(got, want) {
		t.Errorf("group a_b got %v, want %v", got, want)
	}
}

// Topics "x.y" and "x_y" each get a stream of their own.
func TestNamesWithSeparatorsStreams(t *testing.T) {
	dir := t.TempDir()
	u := target(dir, "group=g")
	a := subscribe(t, openSub(t, u), "x.y")
	b := subscribe(t, openSub(t, u), "x_y")
	pub := openPub(t, target(dir, ""))
	wa := publishN(t, pub, "x.y", 2, "a")
	wb := publishN(t, pub, "x_y", 2, "b")
	if got := receive(t, a, 2, 10*time.Second); !equal(got, wa) {
		t.Errorf("x.y got %v, want %v", got, wa)
	}
	if got := receive(t, b, 2, 10*time.Second); !equal(got, wb) {
		t.Errorf("x_y got %v, want %v", got, wb)
	}
}
