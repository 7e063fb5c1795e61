package kafka

import (
	"errors"
	"io"
	"net"

	"github.com/IBM/sarama"
	"github.com/eapache/go-resiliency/breaker"
)

// transient reports whether err is a broker or connection condition that
// passes: leadership moving, a broker restarting or unreachable, a
// timeout. PublishContext waits and sends again after such errors; it
// returns any other error at once.
func transient(err error) bool {
	var kerr sarama.KError
	if errors.As(err, &kerr) {
		switch kerr {
		case sarama.ErrNotLeaderForPartition, sarama.ErrLeaderNotAvailable, sarama.ErrUnknownTopicOrPartition,
			sarama.ErrRequestTimedOut, sarama.ErrNotEnoughReplicas, sarama.ErrNotEnoughReplicasAfterAppend,
			sarama.ErrNetworkException, sarama.ErrBrokerNotAvailable, sarama.ErrFencedLeaderEpoch,
			sarama.ErrUnknownLeaderEpoch, sarama.ErrKafkaStorageError, sarama.ErrReplicaNotAvailable,
			sarama.ErrNotController:
			return true
		}
		return false
	}
	switch {
	case errors.Is(err, sarama.ErrOutOfBrokers), errors.Is(err, sarama.ErrNotConnected),
		errors.Is(err, sarama.ErrControllerNotAvailable), errors.Is(err, breaker.ErrBreakerOpen),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	}
	var nerr net.Error
	return errors.As(err, &nerr)
}
