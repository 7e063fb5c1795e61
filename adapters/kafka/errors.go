package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/heraldkit/herald"
)

// opError formats an error in the adapter contract's style:
//
//	herald/kafka: publish to "orders": <cause>
//
// op is "publish to", "subscribe to" or "prepare"; err is wrapped.
func opError(op, topic string, err error) error {
	return fmt.Errorf("herald/kafka: %s %q: %w", op, topic, err)
}

// closedError is the error of a method called after Close.
func closedError(op, topic string) error { return opError(op, topic, herald.ErrClosed) }

// ctxError is the error of a wait that ctx ended. A deadline that expired
// without an answer, or after a connection failure (cause), means the
// broker did not answer in time: the error then also wraps
// herald.ErrUnreachable.
func ctxError(ctx context.Context, cause error) error {
	err := context.Cause(ctx)
	unreachable := cause != nil && transient(cause) || errors.Is(ctx.Err(), context.DeadlineExceeded)
	switch {
	case unreachable && cause != nil:
		return fmt.Errorf("%w (last error: %w): %w", herald.ErrUnreachable, cause, err)
	case unreachable:
		return fmt.Errorf("%w (no answer): %w", herald.ErrUnreachable, err)
	case cause != nil:
		return fmt.Errorf("%w (last error: %w)", err, cause)
	default:
		return err
	}
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
