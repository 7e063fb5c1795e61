//go:build !race

package publisher_test

import (
	"context"
	"testing"
	"time"

	"github.com/heraldkit/herald"
)

// TestHotPathAllocs: without middleware, the publisher allocates nothing
// of its own per message between the caller and the driver (nullDriver
// allocates nothing either). Before the cut: PublishAsync 3, Publish
// with a deadline 5. (Publish without a deadline pays
// context.WithTimeout: 5.)
func TestHotPathAllocs(t *testing.T) {
	p := benchPublisher(t, "null-test://allocs")
	m := herald.NewMessage([]byte("x"))
	done := func(*herald.Message, error) {}
	bg := context.Background()
	dl, cancel := context.WithTimeout(bg, time.Hour)
	defer cancel()
	for _, c := range []struct {
		name string
		fn   func()
	}{
		{"PublishAsync", func() {
			if err := p.PublishAsync(bg, "t", m, done); err != nil {
				t.Fatal(err)
			}
		}},
		{"Publish/deadline", func() {
			if err := p.Publish(dl, "t", m); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		if n := testing.AllocsPerRun(1000, c.fn); n > 0 {
			t.Errorf("%s: %v allocations per message; want 0", c.name, n)
		}
	}
}
