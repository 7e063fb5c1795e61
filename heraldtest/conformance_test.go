package heraldtest_test

import (
	"testing"
	"time"

	"github.com/heraldkit/herald/adapters/adaptertest"
	"github.com/heraldkit/herald/heraldtest"
)

// The harness keeps the driver contract: the conformance suite every
// backend runs, driver level and end to end. The suite waits in real
// time, so the harness's clock is moved along with it here.
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
				h.Clock().Advance(time.Millisecond)
			}
		}
	}()
	s := adaptertest.Suite{Target: h.URL(), Wait: 10 * time.Second}
	t.Run("driver", func(t *testing.T) { adaptertest.RunDriver(t, s) })
	t.Run("end-to-end", func(t *testing.T) { adaptertest.Run(t, s) })
}
