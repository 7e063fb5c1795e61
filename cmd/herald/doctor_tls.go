package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/heraldkit/herald/internal/tlsopt"
)

// tls makes a TLS handshake with every broker when the configuration
// uses TLS, checking the certificate as the adapter will.
//
// The TLS settings are read by internal/tlsopt, the one reader the
// drivers use, so the handshake is the one the driver will make.
func (d *doctor) tls(ctx context.Context) (string, error) {
	ts, err := tlsopt.Parse(d.cfg)
	if err != nil {
		return "", err
	}
	if !ts.Enabled() {
		return "not configured: plaintext", nil
	}
	var done []string
	for _, a := range d.addrs {
		tc := ts.For(a)
		var dl net.Dialer
		raw, err := dl.DialContext(ctx, "tcp", a)
		if err != nil {
			return "", err
		}
		state, err := handshake(ctx, d.cfg.Scheme, raw, tc)
		raw.Close()
		if err != nil {
			return "", fmt.Errorf("TLS handshake with %s: %w", a, err)
		}
		s := fmt.Sprintf("%s: %s", a, tls.VersionName(state.Version))
		if len(state.PeerCertificates) > 0 {
			s += fmt.Sprintf(", certificate for %s", state.PeerCertificates[0].Subject.CommonName)
		}
		if ts.Insecure {
			s += " (NOT verified: tls_insecure_skip_verify is set)"
		}
		done = append(done, s)
	}
	return strings.Join(done, "; "), nil
}

// errNoTLS is the handshake's error when the server said it offers no
// TLS.
var errNoTLS = errors.New("the server does not offer TLS")

// handshake runs the TLS handshake on raw. NATS first sends its INFO line
// in plaintext, saying whether it offers TLS, and upgrades after it.
func handshake(ctx context.Context, scheme string, raw net.Conn, tc *tls.Config) (tls.ConnectionState, error) {
	if deadline, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(deadline)
	}
	if scheme == "nats" {
		line, err := bufio.NewReader(raw).ReadString('\n')
		if err != nil {
			return tls.ConnectionState{}, fmt.Errorf("reading the server's INFO: %w", err)
		}
		var info struct {
			Required  bool `json:"tls_required"`
			Available bool `json:"tls_available"`
		}
		body, ok := strings.CutPrefix(strings.TrimSpace(line), "INFO ")
		if !ok || json.Unmarshal([]byte(body), &info) != nil {
			return tls.ConnectionState{}, fmt.Errorf("the server did not start with a NATS INFO line (is this a NATS port?)")
		}
		if !info.Required && !info.Available {
			return tls.ConnectionState{}, errNoTLS
		}
	}
	c := tls.Client(raw, tc)
	if err := c.HandshakeContext(ctx); err != nil {
		return tls.ConnectionState{}, err
	}
	return c.ConnectionState(), nil
}
