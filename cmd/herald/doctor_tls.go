package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/heraldkit/herald"
)

// tlsKeys are each backend's TLS option names (see the adapters' doc).
type tlsKeys struct {
	on         func(cfg herald.Config) bool // whether the configuration uses TLS
	skipVerify []string                     // tls_insecure_skip_verify, then an older name the backend accepts
	serverName string
}

// hasAny reports whether one of the options is set.
func hasAny(cfg herald.Config, keys ...string) bool {
	for _, k := range keys {
		if _, ok := cfg.Options[k]; ok {
			return true
		}
	}
	return false
}

// truthy reads a boolean option as the adapters do (already validated).
func truthy(v string) bool {
	switch strings.ToLower(v) {
	case "1", "t", "true", "yes", "on":
		return true
	}
	return false
}

var tlsOptionKeys = map[string]tlsKeys{
	"kafka": {
		on: func(c herald.Config) bool {
			return truthy(c.Options["tls"]) || hasAny(c, "tls_ca", "tls_cert", "tls_key", "tls_insecure_skip_verify", "tls_server_name")
		},
		skipVerify: []string{"tls_insecure_skip_verify"},
		serverName: "tls_server_name",
	},
	"amqps": {on: func(herald.Config) bool { return true }, skipVerify: []string{"tls_insecure_skip_verify", "tls_skip_verify"}, serverName: "tls_server_name"},
	"nats": {
		on: func(c herald.Config) bool {
			return truthy(c.Options["tls"]) || hasAny(c, "tls_ca", "tls_cert", "tls_key", "tls_insecure_skip_verify", "tls_insecure", "tls_server_name")
		},
		skipVerify: []string{"tls_insecure_skip_verify", "tls_insecure"},
		serverName: "tls_server_name",
	},
}

// clientTLS builds the TLS settings the adapter uses from the (already
// validated) options, for the handshake to addr.
func clientTLS(cfg herald.Config, k tlsKeys, addr string) (*tls.Config, error) {
	host, _, _ := net.SplitHostPort(addr)
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
	if k.serverName != "" && cfg.Options[k.serverName] != "" {
		c.ServerName = cfg.Options[k.serverName]
	}
	for _, key := range k.skipVerify {
		c.InsecureSkipVerify = c.InsecureSkipVerify || truthy(cfg.Options[key]) //nolint:gosec // as configured
	}
	if ca := cfg.Options["tls_ca"]; ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		c.RootCAs = pool
	}
	if cert, key := cfg.Options["tls_cert"], cfg.Options["tls_key"]; cert != "" && key != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, err
		}
		c.Certificates = []tls.Certificate{pair}
	}
	return c, nil
}

// tls makes a TLS handshake with every broker when the configuration
// uses TLS, checking the certificate as the adapter will.
func (d *doctor) tls(ctx context.Context) (string, error) {
	k, known := tlsOptionKeys[d.cfg.Scheme]
	if !known || !k.on(d.cfg) {
		return "not configured: plaintext", nil
	}
	var done []string
	for _, a := range d.addrs {
		tc, err := clientTLS(d.cfg, k, a)
		if err != nil {
			return "", err
		}
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
		if tc.InsecureSkipVerify {
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
