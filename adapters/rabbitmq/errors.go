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

// Operations named in errors, in the style of adapters/doc.go:
// herald/amqp: publish to "orders": <cause>.
const (
	opPublish    = "publish to"
	opSubscribe  = "subscribe to"
	opInitialize = "initialize"
)

// opError names the backend (the scheme the user wrote), the operation
// and the topic, and wraps cause.
func opError(scheme, op, topic string, cause error) error {
	return fmt.Errorf("herald/%s: %s %q: %w", scheme, op, topic, cause)
}

// errNotConnected is the cause while the connection is being
// re-established.
var errNotConnected = errors.New("not connected to the broker (reconnecting)")

// unreachable is the cause of a wait for the broker that ctx ended: it
// wraps herald.ErrUnreachable, ctx's error and, when known, why the
// connection is down.
func unreachable(ctx context.Context, last error) error {
	if last == nil {
		return fmt.Errorf("%w: %w", herald.ErrUnreachable, context.Cause(ctx))
	}
	return fmt.Errorf("%w: %w (last error: %w)", herald.ErrUnreachable, context.Cause(ctx), last)
}

// connectError wraps a failure to connect. It names the host and vhost,
// never the credentials: the URI given to the client carries none.
func connectError(s *settings, err error) error {
	return fmt.Errorf("herald/%s: connect to %s (vhost %q): %w", s.scheme, s.host, s.vhost, err)
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
	return fmt.Errorf("permission denied to %s for user %q in vhost %q (check the user's configure, write and read permissions): %w",
		what, s.user, s.vhost, err)
}
