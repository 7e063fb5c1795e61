// Package tlsopt is Herald's one reader of the TLS URL options and its
// one diagnosis of a failed TLS handshake, shared by the kafka, rabbitmq
// and nats drivers and by herald doctor: the same names mean the same on
// every backend, and the same failure is explained the same way.
//
// The options:
//
//	tls                       true|false: TLS on (kafka, nats: implied by any other tls_* option;
//	                          amqp(s): the scheme decides, amqps:// is TLS)
//	tls_ca                    PEM file of the CAs that sign the brokers' certificates (default: the system roots)
//	tls_cert, tls_key         PEM files of a client certificate and its private key, together
//	tls_server_name           name to verify the brokers' certificates against (default: the host dialled)
//	tls_insecure_skip_verify  true: do not verify the brokers' certificates (tests only)
//
// Older names (see package optnames): tls_skip_verify (amqp, amqps) and
// tls_insecure (nats) for tls_insecure_skip_verify.
//
// Errors are *herald.ConfigError values naming the key, the problem and
// what is allowed; they name files, never their contents.
package tlsopt

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"strings"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/internal/optnames"
)

// The option names.
const (
	KeyTLS        = "tls"
	KeyCA         = "tls_ca"
	KeyCert       = "tls_cert"
	KeyKey        = "tls_key"
	KeyServerName = "tls_server_name"
	KeyInsecure   = "tls_insecure_skip_verify"
)

// Keys are the TLS options, in the order of the documentation.
var Keys = []string{KeyTLS, KeyCA, KeyCert, KeyKey, KeyServerName, KeyInsecure}

// Mode says what turns TLS on for a scheme.
type Mode uint8

const (
	// ByOption: tls=true, or any other tls_* option (kafka, nats).
	ByOption Mode = iota
	// ByScheme: the scheme is TLS (amqps); tls=false contradicts it.
	ByScheme
	// Plaintext: the scheme is plaintext (amqp); every TLS option is
	// refused, naming the TLS scheme.
	Plaintext
)

// ModeOf returns the mode of scheme, false for a scheme without TLS
// options (mem, embedded).
func ModeOf(scheme string) (Mode, bool) {
	switch strings.ToLower(scheme) {
	case "kafka", "nats":
		return ByOption, true
	case "amqps":
		return ByScheme, true
	case "amqp":
		return Plaintext, true
	}
	return 0, false
}

// Settings are the TLS options of a configuration.
type Settings struct {
	// Config is the client configuration, nil for plaintext. Its
	// ServerName is tls_server_name, "" when unset: see For.
	Config *tls.Config
	// CA and Cert are the tls_ca and tls_cert files ("" when unset),
	// named in the diagnosis of a failed handshake.
	CA, Cert string
	// ServerName is tls_server_name, "" when unset.
	ServerName string
	// Insecure: certificates are not verified (tls_insecure_skip_verify).
	Insecure bool
	// Scheme is the configuration's, for the hints of a diagnosis.
	Scheme string
}

// Enabled reports whether the connection uses TLS.
func (s Settings) Enabled() bool { return s.Config != nil }

// For returns the client configuration for a connection to addr
// (host:port, or a host): a copy of Config whose ServerName is
// tls_server_name, or else addr's host, so that each broker is verified
// against its own name. It returns nil for plaintext.
func (s Settings) For(addr string) *tls.Config {
	if s.Config == nil {
		return nil
	}
	c := s.Config.Clone()
	if c.ServerName == "" {
		host := addr
		if h, _, err := net.SplitHostPort(addr); err == nil {
			host = h
		}
		c.ServerName = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	}
	return c
}

// Read reads the TLS options of cfg from r (a reader of cfg, as the
// driver's other options), for the mode of cfg's scheme. Problems are
// recorded in r as *herald.ConfigError values naming the key (see
// herald.OptionReader.Err); the TLS settings returned are then plaintext.
func Read(r *herald.OptionReader, cfg herald.Config) Settings {
	mode, ok := ModeOf(cfg.Scheme)
	if !ok {
		return Settings{Scheme: cfg.Scheme}
	}
	insecureKey := optnames.Key(r, cfg, KeyInsecure)
	keys := []string{KeyCA, KeyCert, KeyKey, KeyServerName, insecureKey}
	var set []string // the tls_* options present, in the order of keys
	for _, k := range keys {
		if _, has := cfg.Options[k]; has {
			set = append(set, k)
		}
	}
	s := Settings{Scheme: cfg.Scheme}
	tlsSet := r.Has(KeyTLS)
	on := r.Bool(KeyTLS, false)
	ca, cert, key := r.String(KeyCA, ""), r.String(KeyCert, ""), r.String(KeyKey, "")
	s.ServerName = r.String(KeyServerName, "")
	s.Insecure = r.Bool(insecureKey, false)

	switch mode {
	case Plaintext:
		if tlsSet && on {
			r.Fail(KeyTLS, cfg.Options[KeyTLS], "is true but amqp:// is plaintext", "the amqps:// scheme for TLS")
		}
		for _, k := range set {
			r.Fail(k, "", "needs TLS", "the amqps:// scheme")
		}
		return s
	case ByScheme:
		if tlsSet && !on {
			r.Fail(KeyTLS, cfg.Options[KeyTLS], "is false but amqps:// is TLS", "true, or the amqp:// scheme for plaintext")
			return s
		}
	case ByOption:
		if tlsSet && !on && len(set) > 0 {
			r.Fail(KeyTLS, cfg.Options[KeyTLS], "is false while "+strings.Join(set, ", ")+" set", "tls=true, or remove the tls_* options")
			return s
		}
		if !on && len(set) == 0 {
			return s
		}
	}

	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: s.ServerName, InsecureSkipVerify: s.Insecure} //nolint:gosec // explicit opt-in, documented as for tests only
	failed := false
	fail := func(key, value, problem, allowed string) {
		failed = true
		r.Fail(key, value, problem, allowed)
	}
	if ca != "" {
		const allowed = "the path of a readable PEM file of CA certificates"
		pem, err := os.ReadFile(ca)
		pool := x509.NewCertPool()
		switch {
		case err != nil:
			fail(KeyCA, ca, "cannot be read: "+fileError(err), allowed)
		case !pool.AppendCertsFromPEM(pem):
			fail(KeyCA, ca, "holds no PEM certificate", allowed)
		default:
			c.RootCAs = pool
		}
		s.CA = ca
	}
	switch {
	case cert != "" && key != "":
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			fail(KeyCert, cert, "cannot be loaded with tls_key: "+fileError(err), "the paths of a PEM client certificate (tls_cert) and its PEM private key (tls_key)")
		} else {
			c.Certificates = []tls.Certificate{pair}
		}
		s.Cert = cert
	case cert != "":
		fail(KeyKey, "", "is missing", "the PEM private key file of tls_cert (tls_cert and tls_key together)")
	case key != "":
		fail(KeyCert, "", "is missing", "the PEM certificate file of tls_key (tls_cert and tls_key together)")
	}
	if s.ServerName != "" && strings.ContainsAny(s.ServerName, " /:@") {
		fail(KeyServerName, s.ServerName, "is not a host name", "a DNS name or an IP address, e.g. broker.example.com")
	}
	if failed {
		return s
	}
	s.Config = c
	return s
}

// Parse reads the TLS options of cfg alone and returns their settings,
// or the problems found (*herald.ConfigError values, joined). Other
// options are ignored: herald doctor and tests use it on a configuration
// the driver validated.
func Parse(cfg herald.Config) (Settings, error) {
	only := cfg.Clone()
	only.Options = herald.Options{}
	for k, v := range cfg.Options {
		if strings.HasPrefix(k, "tls") {
			only.Options[k] = v
		}
	}
	r := only.OptionReader()
	s := Read(r, only)
	if err := r.Err(); err != nil {
		return Settings{Scheme: cfg.Scheme}, err
	}
	return s, nil
}

// fileError is the cause of a file error without repeating the path
// (the ConfigError names it), and never the file's contents: crypto/tls
// and os errors say what is wrong, not what the file holds.
func fileError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
