package heraldtest_test

import (
	"testing"
	"time"

	"github.com/heraldkit/herald/adapters/adaptertest"
	"github.com/heraldkit/herald/heraldtest"
)

// The harness keeps the driver contract: the conformance suite every
// backend runs, driver level and end to end, delayed delivery and
// request/reply included. The suite waits and measures in real time, so
// the harness's clock is kept at the real time here (it starts at it):
// a delayed message's time, computed by the publisher from time.Now, then
// comes on the clock when it comes in real time, never before.
func TestConformance(t *testing.T) {
	h := heraldtest.New(t)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				h.Clock().AdvanceTo(time.Now())
			}
		}
	}()
	s := adaptertest.Suite{Target: h.URL(), Wait: 10 * time.Second}
	t.Run("driver", func(t *testing.T) { adaptertest.RunDriver(t, s) })
	t.Run("end-to-end", func(t *testing.T) { adaptertest.Run(t, s) })
}
