package heraldtest_test

import (
	"slices"
	"testing"
	"time"

	"github.com/heraldkit/herald/heraldtest"
)

// Timers fire in time order (equal times in the order they were made),
// each with the clock at its time; a stopped timer does not fire; the
// clock never goes back.
func TestClock(t *testing.T) {
	epoch := time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC)
	c := heraldtest.NewClock(epoch)
	var fired []string
	at := map[string]time.Duration{}
	add := func(name string, d time.Duration) *heraldtest.Timer {
		return c.AfterFunc(d, func() { fired = append(fired, name); at[name] = c.Now().Sub(epoch) })
	}
	add("b", 2*time.Second)
	add("a", time.Second)
	add("b2", 2*time.Second)
	stopped := add("x", 1500*time.Millisecond)
	if !stopped.Stop() || stopped.Stop() {
		t.Error("Stop reports true once, then false")
	}
	c.Advance(1999 * time.Millisecond)
	if !slices.Equal(fired, []string{"a"}) || at["a"] != time.Second {
		t.Fatalf("after 1.999 s fired %v (a at %v)", fired, at["a"])
	}
	c.Advance(time.Millisecond)
	if !slices.Equal(fired, []string{"a", "b", "b2"}) || at["b"] != 2*time.Second {
		t.Fatalf("after 2 s fired %v", fired)
	}
	c.AdvanceTo(epoch)
	if got := c.Now().Sub(epoch); got != 2*time.Second {
		t.Errorf("AdvanceTo the past moved the clock to +%v", got)
	}
	// A timer made by a firing timer, due already, fires in the same Advance.
	c.AfterFunc(time.Second, func() { c.AfterFunc(0, func() { fired = append(fired, "chained") }) })
	c.Advance(time.Second)
	if fired[len(fired)-1] != "chained" {
		t.Errorf("fired %v, want the chained timer last", fired)
	}
}
