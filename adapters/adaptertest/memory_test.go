package adaptertest_test

import (
	"testing"
	"time"

	"github.com/heraldkit/herald/adapters/adaptertest"
	_ "github.com/heraldkit/herald/adapters/memory"
)

// TestMemory runs both levels of the suite on the memory bus, which
// needs no broker: the suite's own check that every test it has runs (or
// skips by a capability) on a driver of the contract.
func TestMemory(t *testing.T) {
	s := adaptertest.Suite{Target: "mem://adaptertest", Wait: 10 * time.Second}
	t.Run("driver", func(t *testing.T) { adaptertest.RunDriver(t, s) })
	t.Run("end-to-end", func(t *testing.T) { adaptertest.Run(t, s) })
}
