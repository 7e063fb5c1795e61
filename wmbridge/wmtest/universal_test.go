package wmtest

import (
	"testing"

	"github.com/ThreeDotsLabs/watermill"

	_ "github.com/heraldkit/herald/adapters/kafka"
	_ "github.com/heraldkit/herald/adapters/memory"
	_ "github.com/heraldkit/herald/adapters/rabbitmq"
)

// Watermill's universal suite (pubsub/tests.TestPubSub) on each Herald
// backend through wmbridge, with the Features its Capabilities give
// (Features). Restarts are not tested here (RestartServiceCommand: the
// brokers are shared); the drivers' own suites restart brokers.

// The suite publishes up to 10000 messages before it subscribes: mem's
// group buffer is raised to hold them.
func TestUniversalMem(t *testing.T) {
	universal(t, lookup(t, "mem://wm-"+watermill.NewShortUUID()+"?buffer=65536"))
}

func TestUniversalKafka(t *testing.T) {
	universal(t, lookup(t, brokerURL(t, "HERALD_TEST_KAFKA")))
}

func TestUniversalAMQP(t *testing.T) {
	universal(t, lookup(t, brokerURL(t, "HERALD_TEST_AMQP")))
}
