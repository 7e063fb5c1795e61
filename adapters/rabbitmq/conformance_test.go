package rabbitmq

import (
	"testing"

	"github.com/heraldkit/herald/adapters/adaptertest"
)

// TestConformance runs the conformance suite at the driver level and end
// to end; what it checks follows Driver.Capabilities (one host: classic
// queues).
func TestConformance(t *testing.T) {
	s := adaptertest.Suite{Target: brokerURL(t), Restart: restartBroker}
	t.Run("driver", func(t *testing.T) { adaptertest.RunDriver(t, s) })
	t.Run("end-to-end", func(t *testing.T) { adaptertest.Run(t, s) })
}

// TestConformanceQuorum runs the suite on quorum group queues, where the
// broker counts attempts.
func TestConformanceQuorum(t *testing.T) {
	s := adaptertest.Suite{Target: withQuery(brokerURL(t), "queue_type=quorum")}
	t.Run("driver", func(t *testing.T) { adaptertest.RunDriver(t, s) })
	t.Run("end-to-end", func(t *testing.T) { adaptertest.Run(t, s) })
}
