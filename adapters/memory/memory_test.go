package memory_test

import (
	"testing"

	"github.com/heraldkit/herald/adapters/adaptertest"
	_ "github.com/heraldkit/herald/adapters/memory"
)

func TestConformance(t *testing.T) {
	adaptertest.Run(t, adaptertest.Suite{
		Target:   "mem://conformance",
		Features: adaptertest.Features{Durable: false, Redelivery: true, OrderedPerKey: true, SingleProcess: true},
	})
}
