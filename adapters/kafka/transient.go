package kafka

import (
	"errors"
	"io"
	"net"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// transient reports whether err is a broker or connection condition that
// passes: leadership moving, a broker restarting or unreachable, a
// timeout. Waits go on after such errors; any other error is returned at
// once.
func transient(err error) bool {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		switch ke {
		case kerr.NotLeaderForPartition, kerr.LeaderNotAvailable, kerr.UnknownTopicOrPartition,
			kerr.RequestTimedOut, kerr.NotEnoughReplicas, kerr.NotEnoughReplicasAfterAppend,
			kerr.NetworkException, kerr.BrokerNotAvailable, kerr.FencedLeaderEpoch,
			kerr.UnknownLeaderEpoch, kerr.KafkaStorageError, kerr.ReplicaNotAvailable,
			kerr.NotController, kerr.CoordinatorNotAvailable, kerr.CoordinatorLoadInProgress,
			kerr.NotCoordinator:
			return true
		}
		return ke.Retriable
	}
	switch {
	case errors.Is(err, kgo.ErrRecordTimeout), errors.Is(err, kgo.ErrRecordRetries),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, errAborted):
		return true
	}
	var nerr net.Error
	return errors.As(err, &nerr)
}
