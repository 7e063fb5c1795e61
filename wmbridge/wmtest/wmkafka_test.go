package wmtest

import (
	"strings"
	"testing"
	"time"

	"github.com/heraldkit/herald/adapters/adaptertest"
	"github.com/heraldkit/herald/wmbridge"
)

func init() { wmbridge.Register("wmkafka", SaramaKafka()) }

// wmkafkaTarget is HERALD_TEST_KAFKA with the wmkafka scheme: the same
// Kafka, reached through watermill-kafka.
func wmkafkaTarget(t *testing.T) string {
	return "wmkafka://" + strings.TrimPrefix(brokerURL(t, "HERALD_TEST_KAFKA"), "kafka://")
}

// TestWMKafkaConformance runs Herald's conformance suite on watermill-kafka
// (Sarama) through wmbridge, as far as its declared capabilities go.
func TestWMKafkaConformance(t *testing.T) {
	t.Parallel()
	s := adaptertest.Suite{Target: wmkafkaTarget(t), Wait: 60 * time.Second}
	t.Run("driver", func(t *testing.T) { adaptertest.RunDriver(t, s) })
	t.Run("end-to-end", func(t *testing.T) { adaptertest.Run(t, s) })
}
