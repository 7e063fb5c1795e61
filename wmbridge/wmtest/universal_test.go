package wmtest

import (
	"testing"

	"github.com/ThreeDotsLabs/watermill"

	_ "github.com/heraldkit/herald/adapters/embedded"
	_ "github.com/heraldkit/herald/adapters/kafka"
	_ "github.com/heraldkit/herald/adapters/memory"
	_ "github.com/heraldkit/herald/adapters/nats"
	_ "github.com/heraldkit/herald/adapters/rabbitmq"
)

// Watermill's universal suite (pubsub/tests.TestPubSub) on each Herald
// backend through wmbridge, with the Features its Capabilities give
// (Features) and the suite's short message counts (ForceShort). Broker
// restarts are not part of it (RestartServiceCommand: the brokers are
// shared); TestReconnectAMQP runs the suite's TestReconnect on RabbitMQ
// behind a proxy whose connections it cuts.

// mem's group buffer is raised above the suite's largest burst
// published before a subscriber reads.
func TestUniversalMem(t *testing.T) {
	universal(t, lookup(t, "mem://wm-"+watermill.NewShortUUID()+"?buffer=65536"))
}

// embedded:// runs a JetStream server in the process, on a directory of
// the test's own.
func TestUniversalEmbedded(t *testing.T) {
	universal(t, lookup(t, "embedded://?dir="+t.TempDir()))
}

func TestUniversalNATS(t *testing.T) {
	universal(t, lookup(t, brokerURL(t, "HERALD_TEST_NATS")))
}

// Topics get 2 partitions instead of Herald's 6: the suite's
// TestPublishSubscribeInOrder subscribes 10 members of one group one
// after the other and reads only once all have joined, so each join
// that moves a partition away from a member holding an unread message
// waits out the driver's revoke grace (10 s, see adapters/kafka). With 2
// partitions one move happens (the keys still spread over two partitions
// and two members, across a revoke) instead of up to 9 (92 s).
func TestUniversalKafka(t *testing.T) {
	universal(t, lookup(t, withOption(brokerURL(t, "HERALD_TEST_KAFKA"), "partitions=2")))
}

func TestUniversalAMQP(t *testing.T) {
	universal(t, lookup(t, brokerURL(t, "HERALD_TEST_AMQP")))
}
