package tlsopt

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/heraldkit/herald"
)

// Problem is what made a TLS handshake fail.
type Problem uint8

// The problems Diagnose tells apart.
const (
	// UnknownAuthority: the server's certificate is not signed by a CA
	// the client trusts (tls_ca, or the system roots).
	UnknownAuthority Problem = iota + 1
	// HostnameMismatch: the certificate is not for the name dialled (or
	// tls_server_name).
	HostnameMismatch
	// Expired: the certificate has expired or is not valid yet.
	Expired
	// BadCertificate: the certificate is invalid for another reason (not
	// for server authentication, signed by a non-CA, ...).
	BadCertificate
	// ClientCertRequired: the server wants a client certificate and none
	// was given.
	ClientCertRequired
	// ClientCertRefused: the server refused the client certificate given.
	ClientCertRefused
	// HandshakeRefused: the server ended the handshake for another reason
	// (no TLS version or cipher suite in common).
	HandshakeRefused
	// PlaintextServer: the client spoke TLS, the server answered in
	// plaintext: the port does not speak TLS.
	PlaintextServer
	// TLSServer: the client spoke plaintext to a port that expects TLS.
	TLSServer
)

// String names p.
func (p Problem) String() string {
	switch p {
	case UnknownAuthority:
		return "unknown authority"
	case HostnameMismatch:
		return "hostname mismatch"
	case Expired:
		return "expired"
	case BadCertificate:
		return "bad certificate"
	case ClientCertRequired:
		return "client certificate required"
	case ClientCertRefused:
		return "client certificate refused"
	case HandshakeRefused:
		return "handshake refused"
	case PlaintextServer:
		return "plaintext server"
	case TLSServer:
		return "TLS server"
	}
	return "unknown"
}

// Error is a diagnosed TLS failure: what went wrong (Cause), what to do
// (Hint) and the client's own error (Err, reachable with errors.As).
// Drivers return it inside their *herald.Error; herald doctor finds it
// with errors.As to give the fix.
type Error struct {
	Problem Problem
	Cause   string // e.g. "server certificate signed by unknown authority"
	Hint    string // e.g. "tls_ca=/etc/ca.pem did not sign it"
	Err     error  // nil when a probe found the problem
}

// Error formats as "TLS: <cause> (<hint>): <err>".
func (e *Error) Error() string {
	s := "TLS: " + e.Cause
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the client's error.
func (e *Error) Unwrap() error { return e.Err }

// Kind is the herald.Kind of the failure: KindInvalid when TLS is on at
// one side only (the URL is wrong), else KindDenied (a certificate was
// refused). Neither is fixed by waiting.
func (e *Error) Kind() herald.Kind {
	if e.Problem == PlaintextServer || e.Problem == TLSServer {
		return herald.KindInvalid
	}
	return herald.KindDenied
}

// Diagnose names the TLS failure behind err, an error of a connection
// made with s, or returns nil when err is not one (typed errors of
// crypto/tls and crypto/x509, and the alert a server sent, which
// crypto/tls reports as "remote error: tls: <alert>").
func Diagnose(err error, s Settings) *Error {
	if err == nil {
		return nil
	}
	var (
		hostErr  x509.HostnameError
		unknown  x509.UnknownAuthorityError
		invalid  x509.CertificateInvalidError
		verify   *tls.CertificateVerificationError
		record   tls.RecordHeaderError
		already  *Error
		expected = s.Scheme
	)
	switch {
	case errors.As(err, &already):
		return already
	case errors.As(err, &hostErr):
		return &Error{Problem: HostnameMismatch, Cause: "the server certificate is not valid for " + quoteHost(hostErr.Host),
			Hint: "set tls_server_name to a name it holds, or connect with the name it was issued for", Err: err}
	case errors.As(err, &unknown):
		return &Error{Problem: UnknownAuthority, Cause: "server certificate signed by unknown authority", Hint: s.caHint(), Err: err}
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return &Error{Problem: Expired, Cause: "the server certificate has expired or is not valid yet",
			Hint: "renew the broker's certificate, or check this machine's clock", Err: err}
	case errors.As(err, &invalid), errors.As(err, &verify):
		return &Error{Problem: BadCertificate, Cause: "the server certificate is invalid", Hint: s.caHint(), Err: err}
	case errors.As(err, &record):
		return PlaintextServerError(expected, err)
	}
	if alert, ok := remoteAlert(err); ok {
		return s.alert(alert, err)
	}
	return nil
}

// remoteAlert returns the alert a server sent during the handshake:
// crypto/tls reports it as a *net.OpError with Op "remote error" around
// an unexported type whose text is "tls: <alert>".
func remoteAlert(err error) (string, bool) {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "remote error" && op.Err != nil {
		return strings.TrimPrefix(op.Err.Error(), "tls: "), true
	}
	var a tls.AlertError
	if errors.As(err, &a) {
		return strings.TrimPrefix(a.Error(), "tls: "), true
	}
	// Some clients flatten the error to text (nats.go's does not, but
	// wrapping with %v loses the type).
	if i := strings.Index(err.Error(), "remote error: tls: "); i >= 0 {
		rest := err.Error()[i+len("remote error: tls: "):]
		if j := strings.IndexAny(rest, ":;()"); j >= 0 {
			rest = rest[:j]
		}
		return strings.TrimSpace(rest), true
	}
	return "", false
}

// alert diagnoses the alert a server sent.
func (s Settings) alert(alert string, err error) *Error {
	certAlert := false
	for _, a := range []string{"bad certificate", "unknown certificate authority", "certificate unknown", "certificate expired",
		"certificate revoked", "unsupported certificate", "access denied", "certificate required", "handshake failure"} {
		if strings.Contains(alert, a) {
			certAlert = true
		}
	}
	switch {
	case certAlert && (s.Cert == "" || strings.Contains(alert, "certificate required")):
		return ClientCertRequiredError(s, err)
	case certAlert:
		hint := "the server probably does not accept the client certificate tls_cert=" + s.Cert + " (not signed by a CA it trusts, or expired)"
		if alert == "handshake failure" {
			hint += ", or has no TLS version or cipher suite in common with this client"
		}
		return &Error{Problem: ClientCertRefused, Cause: "the server refused the handshake: " + alert, Hint: hint, Err: err}
	}
	return &Error{Problem: HandshakeRefused, Cause: "the server refused the handshake: " + alert,
		Hint: "no TLS version or cipher suite in common (this client speaks TLS 1.2 and 1.3)", Err: err}
}

// ClientCertRequiredError is the diagnosis of a server that requires a
// client certificate, or refused the one given: its alert, or a
// connection it closed right after the handshake (TLS 1.3 servers check
// the client certificate after the client finished its part).
func ClientCertRequiredError(s Settings, err error) *Error {
	if s.Cert != "" {
		return &Error{Problem: ClientCertRefused, Cause: "the server refused the handshake",
			Hint: "the server probably does not accept the client certificate tls_cert=" + s.Cert + " (not signed by a CA it trusts, or expired)", Err: err}
	}
	return &Error{Problem: ClientCertRequired, Cause: "the server refused the handshake",
		Hint: "no client certificate given: the server probably requires one (set tls_cert and tls_key)", Err: err}
}

// PlaintextServerError is the diagnosis of a TLS client that got a
// plaintext answer: the port does not speak TLS. scheme picks the hint.
func PlaintextServerError(scheme string, err error) *Error {
	hint := "remove tls=true and the tls_* options, or use the port of the broker's TLS listener"
	if scheme == "amqps" {
		hint = "use amqp://, or the broker's TLS port, 5671 by default"
	}
	return &Error{Problem: PlaintextServer, Cause: "the server does not speak TLS on this port (it answered in plaintext)", Hint: hint, Err: err}
}

// ClosedHandshakeError is the diagnosis of a server that closed the
// connection (or stopped answering) during the TLS handshake, before any
// alert: most often a plaintext port waiting for its own protocol (a
// Kafka listener), sometimes a server that wants a client certificate.
func ClosedHandshakeError(s Settings, err error) *Error {
	d := PlaintextServerError(s.Scheme, err)
	d.Cause = "the server closed the connection during the TLS handshake"
	d.Hint = "it probably does not speak TLS on this port: " + d.Hint
	if s.Cert == "" {
		d.Hint += "; or it requires a client certificate (tls_cert and tls_key)"
	}
	return d
}

// TLSServerError is the diagnosis of a plaintext client whose server
// expects TLS (found by SpeaksTLS, or said by the server). scheme picks
// the hint.
func TLSServerError(scheme string, err error) *Error {
	hint := "add tls=true, and tls_ca=/path/to/ca.pem when its certificate is not signed by a system CA"
	if scheme == "amqp" {
		hint = "use amqps://, with tls_ca=/path/to/ca.pem when its certificate is not signed by a system CA"
	}
	return &Error{Problem: TLSServer, Cause: "the server expects TLS on this port", Hint: hint, Err: err}
}

// caHint says what the server certificate was checked against.
func (s Settings) caHint() string {
	if s.CA == "" {
		return "checked against the system roots: set tls_ca to the PEM file of the CA that signed it"
	}
	return "tls_ca=" + s.CA + " did not sign it"
}

func quoteHost(h string) string {
	if h == "" {
		return "the host dialled"
	}
	return fmt.Sprintf("%q", h)
}
