package memory_test

import (
	"testing"

	"github.com/heraldkit/herald/adapters/adaptertest"
	_ "github.com/heraldkit/herald/adapters/memory"
)

func TestConformance(t *testing.T) {
	s := adaptertest.Suite{Target: "mem://conformance"}
	t.Run("driver", func(t *testing.T) { adaptertest.RunDriver(t, s) })
	t.Run("end-to-end", func(t *testing.T) { adaptertest.Run(t, s) })
}
