package kafka_test

import (
	"log"
	"os"

	"github.com/IBM/sarama"
)

// HERALD_KAFKA_DEBUG=1 prints Sarama's log while the tests run.
func init() {
	if os.Getenv("HERALD_KAFKA_DEBUG") != "" {
		sarama.Logger = log.New(os.Stderr, "[sarama] ", log.Ltime|log.Lmicroseconds)
	}
}
