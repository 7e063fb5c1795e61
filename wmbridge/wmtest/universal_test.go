package wmtest

import (
	"testing"

	"github.com/ThreeDotsLabs/watermill"

	_ "github.com/heraldkit/herald/adapters/memory"
)

// The suite publishes up to 10000 messages before it subscribes: mem's
// group buffer is raised to hold them.
func TestUniversalMem(t *testing.T) {
	universal(t, lookup(t, "mem://wm-"+watermill.NewShortUUID()+"?buffer=65536"))
}
