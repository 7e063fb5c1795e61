package kafka

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/IBM/sarama"
	"github.com/eapache/go-resiliency/breaker"
)

// publishRetryWindow bounds how long Publish keeps retrying a send that
// failed with a transient error (on top of Sarama's own retries): about a
// minute of broker outage is ridden out.
const publishRetryWindow = 60 * time.Second

// retry calls send until it succeeds, fails with an error that retrying
// cannot fix, ctx is done, stop is closed or publishRetryWindow has passed. Sarama retries
// by itself, but its idempotent producer gives a batch up as soon as a
// partition has no leader, which is what a restarting broker looks like.
// A resend may duplicate a message the broker did store: at-least-once.
func retry(ctx context.Context, stop <-chan struct{}, send func() error) error {
	deadline := time.Now().Add(publishRetryWindow)
	wait := 250 * time.Millisecond
	for {
		err := send()
		if err == nil || !transient(err) || time.Now().Add(wait).After(deadline) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-stop:
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// transient reports whether err is a broker or connection condition that
// passes: leadership moving, a broker restarting, a timeout.
func transient(err error) bool {
	var kerr sarama.KError
	if errors.As(err, &kerr) {
		switch kerr {
		case sarama.ErrNotLeaderForPartition, sarama.ErrLeaderNotAvailable, sarama.ErrUnknownTopicOrPartition,
			sarama.ErrRequestTimedOut, sarama.ErrNotEnoughReplicas, sarama.ErrNotEnoughReplicasAfterAppend,
			sarama.ErrNetworkException, sarama.ErrBrokerNotAvailable, sarama.ErrFencedLeaderEpoch,
			sarama.ErrUnknownLeaderEpoch, sarama.ErrKafkaStorageError, sarama.ErrReplicaNotAvailable:
			return true
		}
		return false
	}
	var nerr net.Error
	return errors.Is(err, sarama.ErrOutOfBrokers) || errors.Is(err, sarama.ErrNotConnected) ||
		errors.Is(err, breaker.ErrBreakerOpen) || errors.As(err, &nerr)
}
