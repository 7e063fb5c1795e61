package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heraldkit/herald"
)

// backend is the scheme, named in every error.
const backend = "kafka"

// Operations named in errors.
const (
	opPublish   = "publish to"
	opSubscribe = "subscribe to"
	opPrepare   = "prepare"
	opClose     = "close"
)

// newError is the driver's error: herald/kafka: <op> "<topic>": <cause>.
func newError(op, topic string, kind herald.Kind, err error) *herald.Error {
	return &herald.Error{Backend: backend, Op: op, Topic: topic, Kind: kind, Err: err}
}

// opError classifies err (see kindOf) for op on topic. An *herald.Error
// in err's chain keeps its kind.
func opError(op, topic string, err error) *herald.Error {
	return newError(op, topic, kindOf(err), err)
}

// closedError is the error of a method called after Close.
func closedError(op, topic string) *herald.Error {
	return newError(op, topic, herald.KindClosed, herald.ErrClosed)
}

// kindOf classifies an error of the Kafka stack. Conditions that pass
// (transient) are KindUnreachable; a context that ended too.
func kindOf(err error) herald.Kind {
	var he *herald.Error
	var ke *kerr.Error
	switch {
	case err == nil:
		return herald.KindOther
	case errors.As(err, &he) && he.Kind != herald.KindOther:
		return he.Kind
	case errors.Is(err, herald.ErrClosed), errors.Is(err, kgo.ErrClientClosed), errors.Is(err, kgo.ErrAborting):
		return herald.KindClosed
	case authorizationFailed(err), errors.Is(err, kerr.SaslAuthenticationFailed), errors.Is(err, herald.ErrDenied):
		return herald.KindDenied
	case errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.RecordListTooLarge):
		return herald.KindTooLarge
	case errors.Is(err, kerr.InvalidTopicException), errors.Is(err, kerr.InvalidRecord),
		errors.Is(err, kerr.CorruptMessage), errors.Is(err, kerr.InvalidPartitions),
		errors.Is(err, kerr.InvalidReplicationFactor), errors.Is(err, kerr.PolicyViolation),
		errors.Is(err, kerr.InvalidConfig), errors.Is(err, kerr.InvalidRequiredAcks),
		errors.Is(err, kerr.InvalidTimestamp):
		return herald.KindInvalid
	case errors.Is(err, herald.ErrUnreachable), transient(err),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return herald.KindUnreachable
	case errors.As(err, &ke):
		return herald.KindOther
	}
	return herald.KindOther
}

// maybeStored reports whether a produce failure err is one the broker
// may have stored the record with: the leader appended it but the write
// did not reach enough replicas, or the broker timed out waiting for them.
func maybeStored(err error) bool {
	return errors.Is(err, kerr.NotEnoughReplicasAfterAppend) || errors.Is(err, kerr.RequestTimedOut)
}

// ctxErr is the error of a wait that ctx ended: context.Cause(ctx), with
// the last failure seen meanwhile (cause) when there is one.
func ctxErr(ctx context.Context, cause error) error {
	err := context.Cause(ctx)
	if cause == nil || errors.Is(cause, err) {
		return fmt.Errorf("no answer from the brokers: %w", err)
	}
	return fmt.Errorf("no answer from the brokers (last error: %w): %w", cause, err)
}

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

// authorizationFailed reports whether err is the broker refusing an
// operation to the user (an ACL missing): waiting does not fix it.
func authorizationFailed(err error) bool {
	var ke *kerr.Error
	if !errors.As(err, &ke) {
		return false
	}
	switch ke {
	case kerr.TopicAuthorizationFailed, kerr.ClusterAuthorizationFailed, kerr.GroupAuthorizationFailed,
		kerr.TransactionalIDAuthorizationFailed:
		return true
	}
	return false
}

// denied explains an authorization the broker refused (an ACL missing):
// which user, and which ACL the operation needs. Other errors are
// returned unchanged.
func denied(user string, err error) error {
	var ke *kerr.Error
	if err == nil || !errors.As(err, &ke) {
		return err
	}
	var need string
	switch ke {
	case kerr.TopicAuthorizationFailed:
		need = "the topic's ACLs do not allow it: publishing needs WRITE and DESCRIBE on the topic, consuming READ and DESCRIBE"
	case kerr.ClusterAuthorizationFailed:
		need = "an ACL on the cluster is missing: an idempotent producer needs WRITE on the topic (or IDEMPOTENT_WRITE on the cluster), creating a topic CREATE"
	case kerr.GroupAuthorizationFailed:
		need = "the consumer group's ACLs do not allow it: a group member needs READ on the group"
	case kerr.TransactionalIDAuthorizationFailed:
		need = "the transactional ID's ACLs do not allow it"
	default:
		return err
	}
	who := "the connection's principal (no SASL user)"
	if user != "" {
		who = fmt.Sprintf("user %q", user)
	}
	return fmt.Errorf("permission denied for %s (%s): %w", who, need, err)
}
