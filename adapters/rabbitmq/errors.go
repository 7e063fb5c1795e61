package rabbitmq

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldkit/herald"
)

// Operations named in errors (herald.Error.Op):
// herald/amqp: publish to "orders": <cause>.
const (
	opPublish   = "publish to"
	opSubscribe = "subscribe to"
	opPrepare   = "prepare"
	opClose     = "close"
)

// kinded attaches a herald.Kind to a cause inside the driver; opError
// turns it into the *herald.Error callers see. Sentinels are not wrapped
// inside causes: the Kind says what the error is, once.
type kinded struct {
	kind herald.Kind
	err  error
}

func (k *kinded) Error() string { return k.err.Error() }
func (k *kinded) Unwrap() error { return k.err }

// withKind marks err as being of kind.
func withKind(kind herald.Kind, err error) error { return &kinded{kind: kind, err: err} }

// kindOf is the kind of a cause: the innermost withKind, else what
// herald.KindOf finds (a *herald.Error or a sentinel in the chain).
func kindOf(err error) herald.Kind {
	var k *kinded
	if errors.As(err, &k) {
		return k.kind
	}
	return herald.KindOf(err)
}

// opError is the *herald.Error of op on topic ("" for none) with cause
// err; an err that already is one for the same op and topic is returned
// as is.
func opError(scheme, op, topic string, err error) *herald.Error {
	var he *herald.Error
	if errors.As(err, &he) && he.Op == op && he.Topic == topic && he.Backend == scheme {
		return he
	}
	return &herald.Error{Backend: scheme, Op: op, Topic: topic, Kind: kindOf(err), Err: err}
}

// errClosed is the cause once Close was called.
var errClosed = withKind(herald.KindClosed, errors.New("closed"))

// errNotConnected is the cause while the connection is being
// re-established.
var errNotConnected = errors.New("not connected to the broker (reconnecting)")

// unreachable is the cause of a wait for the broker that ctx ended: ctx's
// error and, when known, why the connection is down.
func unreachable(ctx context.Context, last error) error {
	if last == nil {
		return withKind(herald.KindUnreachable, context.Cause(ctx))
	}
	return withKind(herald.KindUnreachable, fmt.Errorf("%w (last error: %w)", context.Cause(ctx), last))
}

// outcomeUnknown is the cause of a message written to the broker whose
// confirm did not come: the broker may have stored it.
func outcomeUnknown(id string, cause error) error {
	return withKind(herald.KindOutcomeUnknown, fmt.Errorf("message %s written, no confirm (the broker may have stored it): %w", id, cause))
}

// connectError wraps a failure to connect. It names the host and vhost,
// never the credentials: the URI given to the client carries none.
func connectError(s *settings, err error) *herald.Error {
	return opError(s.scheme, fmt.Sprintf("connect to %s (vhost %q)", s.host, s.vhost), "", err)
}

// isConnectionError reports whether e, received when a channel closed,
// is about the whole connection (lost, or closed by the broker) rather
// than the channel alone: channel-level errors are AMQP "soft" errors,
// which the client marks recoverable.
func isConnectionError(e *amqp.Error) bool {
	return e == nil || !e.Server || !e.Recover
}

// isTLSError reports whether err comes from verifying a certificate or
// from an alert the server sent during the TLS handshake.
func isTLSError(err error) bool {
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var alert tls.AlertError
	var verify *tls.CertificateVerificationError
	return errors.As(err, &unknownCA) || errors.As(err, &hostErr) || errors.As(err, &invalid) ||
		errors.As(err, &alert) || errors.As(err, &verify) || strings.Contains(err.Error(), "remote error: tls:")
}

// explainTLS names what failed in a TLS handshake: the server's
// certificate (and the tls_ca it was checked against) or the client's.
func explainTLS(s *settings, err error) error {
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	ca := "tls_ca=" + s.tlsCA + " did not sign it"
	if s.tlsCA == "" {
		ca = "checked against the system roots: set tls_ca to the PEM file of the CA that signed it"
	}
	switch {
	case errors.As(err, &unknownCA):
		return fmt.Errorf("TLS: server certificate signed by unknown authority (%s): %w", ca, err)
	case errors.As(err, &hostErr):
		return fmt.Errorf("TLS: the server certificate is not valid for this host (set tls_server_name to a name it holds): %w", err)
	case strings.Contains(err.Error(), "remote error: tls:"):
		cert := "no client certificate given: the server probably requires one (tls_cert and tls_key)"
		if s.tlsCert != "" {
			cert = "the server probably does not accept the client certificate tls_cert=" + s.tlsCert
		}
		return fmt.Errorf("TLS: the server refused the handshake (%s): %w", cert, err)
	default:
		return fmt.Errorf("TLS: the server certificate is invalid (%s): %w", ca, err)
	}
}

// accessRefused is the cause of an ACCESS_REFUSED: what was refused, to
// which user, and the permission to check.
// what is the operation refused, e.g. "publish (write to the exchange)".
func accessRefused(s *settings, what string, err error) error {
	return withKind(herald.KindDenied, fmt.Errorf("permission denied to %s for user %q in vhost %q (check the user's configure, write and read permissions): %w",
		what, s.user, s.vhost, err))
}
