package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heraldkit/herald"
)

// connect opens a franz-go client to the brokers through g, with opts
// added to the shared ones, and checks that a broker answers (the
// handshake, TLS and SASL included). It honours ctx: when ctx ends first
// the error is KindUnreachable and wraps context.Cause(ctx). A failure is
// explained where possible (see explain). what names the client in the
// error ("publisher", "subscriber").
func connect(ctx context.Context, what string, s settings, g *netGuard, opts ...kgo.Opt) (*kgo.Client, error) {
	op := fmt.Sprintf("open %s on %v", what, s.brokers)
	cl, err := kgo.NewClient(append(s.clientOpts(g), opts...)...)
	if err != nil {
		return nil, newError(op, "", herald.KindInvalid, err)
	}
	if err := cl.Ping(ctx); err != nil {
		cl.Close()
		if ctx.Err() != nil {
			return nil, newError(op, "", herald.KindUnreachable, ctxErr(ctx, g.lastDialError()))
		}
		kind, err := explain(ctx, s, g, err)
		return nil, newError(op, "", kind, err)
	}
	return cl, nil
}

// probeTimeout bounds each connection attempt explain makes.
const probeTimeout = 5 * time.Second

// explain turns a failed connection into the likely cause and its kind:
// SASL, or TLS, that the listener does not speak (KindInvalid), a
// certificate or credentials refused (KindDenied). It connects to the
// first broker again, without the suspect setting, to find out, and adds
// the broker's own error. Without a better explanation the brokers are
// unreachable (KindUnreachable).
func explain(ctx context.Context, s settings, g *netGuard, err error) (herald.Kind, error) {
	addr := s.brokers[0]
	without := func(withSASL, withTLS bool) error {
		p := s
		if !withSASL {
			p.sasl = ""
		}
		if !withTLS {
			p.tls = nil
		}
		return probeBroker(ctx, p)
	}
	var ke *kerr.Error
	switch {
	case s.tls != nil && isTLSError(err):
		// Certificates, not reachability: no probe can do better.
		return herald.KindDenied, explainTLS(s, addr, err)
	case s.sasl != "" && errors.Is(err, kerr.SaslAuthenticationFailed):
		return herald.KindDenied, fmt.Errorf("%s: authentication failed for user %q (check the password; sasl=%s): %w", addr, s.username, s.sasl, err)
	case s.sasl != "" && without(false, s.tls != nil) == nil:
		return herald.KindInvalid, fmt.Errorf("SASL (%s) failed: the listener at %s answers without SASL, so it probably does not use SASL: "+
			"remove the sasl option, or use the port of the broker's SASL_PLAINTEXT or SASL_SSL listener: %w", s.sasl, addr, err)
	case s.tls != nil && without(s.sasl != "", false) == nil:
		return herald.KindInvalid, fmt.Errorf("TLS handshake failed: the listener at %s answers in plaintext, so it does not use TLS: "+
			"remove the tls options, or use the port of the broker's SSL or SASL_SSL listener: %w", addr, err)
	case s.tls == nil && (g.sawTLS.Load() || speaksTLS(ctx, addr)):
		return herald.KindInvalid, fmt.Errorf("the listener at %s answers with TLS: add tls=true (and tls_ca when its certificate is not "+
			"signed by a system CA): %w", addr, err)
	case errors.As(err, &ke):
		// The broker answered with an error: not a reachability problem.
		return kindOf(err), fmt.Errorf("%s: %w", addr, err)
	default:
		return herald.KindUnreachable, err
	}
}

// isTLSError reports whether err comes from verifying a certificate or
// from an alert the broker sent during the TLS handshake.
func isTLSError(err error) bool {
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	return errors.As(err, &unknownCA) || errors.As(err, &hostErr) || errors.As(err, &invalid) ||
		errors.As(err, &verify) || strings.Contains(err.Error(), "remote error: tls:")
}

// explainTLS names what failed in a TLS handshake with the broker at
// addr: its certificate (and the tls_ca it was checked against) or the
// client's.
func explainTLS(s settings, addr string, err error) error {
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	ca := "tls_ca=" + s.tlsCA + " did not sign it"
	if s.tlsCA == "" {
		ca = "checked against the system roots: set tls_ca to the PEM file of the CA that signed it"
	}
	switch {
	case errors.As(err, &unknownCA):
		return fmt.Errorf("%s: TLS: broker certificate signed by unknown authority (%s): %w", addr, ca, err)
	case errors.As(err, &hostErr):
		return fmt.Errorf("%s: TLS: the broker certificate is not valid for this host: %w", addr, err)
	case strings.Contains(err.Error(), "remote error: tls:"):
		cert := "no client certificate given: the listener probably requires one (ssl.client.auth=required; set tls_cert and tls_key)"
		if s.tlsCert != "" {
			cert = "the listener probably does not accept the client certificate tls_cert=" + s.tlsCert + " (not signed by a CA in its trust store)"
		}
		return fmt.Errorf("%s: TLS: the broker refused the handshake (%s): %w", addr, cert, err)
	default:
		return fmt.Errorf("%s: TLS: the broker certificate is invalid (%s): %w", addr, ca, err)
	}
}

// probeBroker connects to the first broker with s and checks that it
// answers, within ctx and probeTimeout. It returns the broker's error, nil
// when it answered.
func probeBroker(ctx context.Context, s settings) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	g := newNetGuard(probeTimeout, 0)
	defer g.abort()
	p := s
	p.brokers = s.brokers[:1]
	cl, err := kgo.NewClient(p.clientOpts(g)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	return cl.Ping(ctx)
}

// speaksTLS reports whether addr completes a TLS handshake (certificate
// not checked: only the protocol matters), within ctx and probeTimeout.
func speaksTLS(ctx context.Context, addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	d := tls.Dialer{Config: &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true}} //nolint:gosec // a probe: nothing is sent
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}
