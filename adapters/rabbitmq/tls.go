package rabbitmq

import (
	"crypto/tls"
	"crypto/x509"
	"os"

	"github.com/heraldkit/herald"
)

// tlsOptions are the amqps settings read from the URL.
type tlsOptions struct {
	ca, cert, key, serverName string
	skipVerify                bool
	set                       []string // keys present, in a fixed order
}

func readTLSOptions(r *herald.OptionReader) tlsOptions {
	var o tlsOptions
	for _, k := range []string{"tls_ca", "tls_cert", "tls_key", "tls_server_name", "tls_insecure_skip_verify", "tls_skip_verify"} {
		if r.Has(k) {
			o.set = append(o.set, k)
		}
	}
	o.ca = r.String("tls_ca", "")
	o.cert = r.String("tls_cert", "")
	o.key = r.String("tls_key", "")
	o.serverName = r.String("tls_server_name", "")
	// tls_insecure_skip_verify is the name every backend accepts;
	// tls_skip_verify is this backend's older one.
	o.skipVerify = r.Bool("tls_insecure_skip_verify", false) || r.Bool("tls_skip_verify", false)
	return o
}

// firstSet returns the first TLS option present, or "".
func (o tlsOptions) firstSet() string {
	if len(o.set) == 0 {
		return ""
	}
	return o.set[0]
}

// config builds the client TLS configuration, reading the CA and key pair
// files now so that a missing or malformed file is a configuration error.
func (o tlsOptions) config(host string) (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         host,
		InsecureSkipVerify: o.skipVerify, //nolint:gosec // explicit opt-in, documented as for tests only
	}
	if o.serverName != "" {
		tc.ServerName = o.serverName
	}
	if o.ca != "" {
		pem, err := os.ReadFile(o.ca)
		if err != nil {
			return nil, &herald.ConfigError{Key: "tls_ca", Value: o.ca, Problem: "cannot be read", Allowed: "a readable PEM file of CA certificates", Err: err}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &herald.ConfigError{Key: "tls_ca", Value: o.ca, Problem: "holds no PEM certificate", Allowed: "a readable PEM file of CA certificates"}
		}
		tc.RootCAs = pool
	}
	switch {
	case o.cert != "" && o.key != "":
		pair, err := tls.LoadX509KeyPair(o.cert, o.key)
		if err != nil {
			return nil, &herald.ConfigError{Key: "tls_cert", Value: o.cert, Problem: "cannot be loaded with tls_key", Allowed: "PEM certificate and private key files that match", Err: err}
		}
		tc.Certificates = []tls.Certificate{pair}
	case o.cert != "":
		return nil, &herald.ConfigError{Key: "tls_key", Problem: "is missing", Allowed: "tls_cert and tls_key together"}
	case o.key != "":
		return nil, &herald.ConfigError{Key: "tls_cert", Problem: "is missing", Allowed: "tls_cert and tls_key together"}
	}
	return tc, nil
}
