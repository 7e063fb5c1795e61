package nats

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/heraldkit/herald"
)

// auth describes the credentials and TLS files of a connection for error
// messages: names and paths, never a secret.
type auth struct {
	method  string // "user:password", "token", "nkey", "creds" or ""
	user    string
	file    string // the nkey or creds file
	tls     bool
	tlsCA   string
	tlsCert string
}

// explainConnect names what failed when a connection is refused: the
// server's certificate (and the tls_ca it was checked against), the
// client certificate, or the credentials, all KindDenied (waiting does
// not fix them). Other errors are returned as they are, KindUnreachable.
func explainConnect(a auth, err error) (herald.Kind, error) {
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var alert tls.AlertError
	switch {
	case errors.As(err, &unknownCA):
		return herald.KindDenied, fmt.Errorf("TLS: server certificate signed by unknown authority (%s): %w", a.caHint(), err)
	case errors.As(err, &hostErr):
		return herald.KindDenied, fmt.Errorf("TLS: the server certificate is not valid for this host (set tls_server_name to a name it holds): %w", err)
	case errors.As(err, &invalid):
		return herald.KindDenied, fmt.Errorf("TLS: the server certificate is invalid (%s): %w", a.caHint(), err)
	case errors.As(err, &alert) || isRemoteTLSAlert(err):
		return herald.KindDenied, fmt.Errorf("TLS: the server refused the handshake (%s): %w", a.certHint(), err)
	case a.tls && strings.Contains(err.Error(), "connection closed by remote after TLS handshake"):
		// TLS 1.3: the server checks the client certificate after the
		// client finished the handshake, then closes the connection.
		return herald.KindDenied, fmt.Errorf("TLS: the server closed the connection after the handshake (%s): %w", a.certHint(), err)
	case errors.Is(err, nats.ErrAuthorization):
		return herald.KindDenied, fmt.Errorf("%s: %w", a.authFailed(), err)
	case errors.Is(err, nats.ErrAuthExpired), errors.Is(err, nats.ErrAuthRevoked):
		return herald.KindDenied, fmt.Errorf("%s: %w", a.authFailed(), err)
	}
	return herald.KindUnreachable, err
}

// isRemoteTLSAlert reports whether err is an alert the server sent
// during the handshake ("remote error: tls: ..."), which crypto/tls does
// not export as a type on the client side.
func isRemoteTLSAlert(err error) bool {
	return strings.Contains(err.Error(), "remote error: tls:")
}

func (a auth) caHint() string {
	if a.tlsCA == "" {
		return "checked against the system roots: set tls_ca to the PEM file of the CA that signed it"
	}
	return "tls_ca=" + a.tlsCA + " did not sign it"
}

func (a auth) certHint() string {
	if a.tlsCert == "" {
		return "no client certificate given: the server probably requires one (tls_cert and tls_key)"
	}
	return "the server probably does not accept the client certificate tls_cert=" + a.tlsCert
}

func (a auth) authFailed() string {
	switch a.method {
	case "user:password":
		return fmt.Sprintf("authentication failed for user %q (check the password)", a.user)
	case "token":
		return "authentication failed with the token (check the token option)"
	case "nkey":
		return "authentication failed for the nkey in nkey=" + a.file + " (the server does not know its public key)"
	case "creds":
		return "authentication failed with the credentials in creds=" + a.file
	default:
		return "the server requires authentication and none was given (user:password in the URL, token, nkey or creds)"
	}
}
