package nats

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/internal/tlsopt"
)

// auth describes the credentials and TLS files of a connection for error
// messages: names and paths, never a secret.
type auth struct {
	method string // "user:password", "token", "nkey", "creds" or ""
	user   string
	file   string          // the nkey or creds file
	tls    tlsopt.Settings // the TLS options, for the diagnosis of a failed handshake
}

// explainConnect names what failed when a connection is refused: a TLS
// handshake (diagnosed by internal/tlsopt, as on every backend: the
// server's certificate and the tls_ca it was checked against, the client
// certificate, TLS on one side only) or the credentials, all KindDenied
// or KindInvalid (waiting does not fix them). Other errors are returned
// as they are, KindUnreachable.
func explainConnect(a auth, err error) (herald.Kind, error) {
	// Without tls options nats.go still upgrades to TLS when the server
	// requires it: a certificate error is diagnosed whatever the options.
	d := tlsopt.Diagnose(err, a.tls)
	switch {
	case d != nil:
	case a.tls.Enabled() && strings.Contains(err.Error(), "connection closed by remote after TLS handshake"):
		// TLS 1.3: the server checks the client certificate after the
		// client finished the handshake, then closes the connection
		// (nats.go says so in this text only).
		d = tlsopt.ClientCertRequiredError(a.tls, err)
	case errors.Is(err, nats.ErrSecureConnWanted):
		d = tlsopt.PlaintextServerError("nats", err)
	case errors.Is(err, nats.ErrSecureConnRequired):
		d = tlsopt.TLSServerError("nats", err)
	case errors.Is(err, nats.ErrAuthorization):
		return herald.KindDenied, fmt.Errorf("%s: %w", a.authFailed(), err)
	case errors.Is(err, nats.ErrAuthExpired), errors.Is(err, nats.ErrAuthRevoked):
		return herald.KindDenied, fmt.Errorf("%s: %w", a.authFailed(), err)
	default:
		return herald.KindUnreachable, err
	}
	return d.Kind(), d
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
