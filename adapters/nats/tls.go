package nats

import (
	"crypto/tls"
	"crypto/x509"
	"os"

	"github.com/nats-io/nats.go"

	"github.com/heraldkit/herald"
)

// readTLS reads the tls, tls_ca, tls_cert, tls_key,
// tls_insecure_skip_verify (tls_insecure, its older name here) and
// tls_server_name options. TLS is on when tls=true or any other tls_*
// option is set.
func readTLS(r *herald.OptionReader) (nats.Option, bool) {
	anyTLS := r.Has("tls_ca") || r.Has("tls_cert") || r.Has("tls_key") || r.Has("tls_insecure_skip_verify") || r.Has("tls_insecure") || r.Has("tls_server_name")
	on := r.Bool("tls", anyTLS)
	if !on {
		if anyTLS {
			r.Fail("tls", "false", "is false while tls_* options are set", "tls=true, or remove the tls_* options")
		}
		return nil, false
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	cfg.InsecureSkipVerify = r.Bool("tls_insecure_skip_verify", false) || r.Bool("tls_insecure", false)
	cfg.ServerName = r.String("tls_server_name", "")
	if ca := r.String("tls_ca", ""); ca != "" {
		pem, err := os.ReadFile(ca)
		pool := x509.NewCertPool()
		switch {
		case err != nil:
			r.Fail("tls_ca", ca, "cannot be read: "+noSecrets(err), "the path of a PEM file with CA certificates")
		case !pool.AppendCertsFromPEM(pem):
			r.Fail("tls_ca", ca, "holds no PEM certificate", "the path of a PEM file with CA certificates")
		default:
			cfg.RootCAs = pool
		}
	}
	cert, key := r.String("tls_cert", ""), r.String("tls_key", "")
	switch {
	case cert != "" && key != "":
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			r.Fail("tls_cert", cert, "and tls_key do not load as a certificate and key: "+err.Error(), "paths of a PEM certificate and its PEM private key")
		} else {
			cfg.Certificates = []tls.Certificate{pair}
		}
	case cert != "" || key != "":
		r.Fail("tls_cert", cert, "and tls_key must be set together", "both tls_cert and tls_key, or neither")
	}
	return nats.Secure(cfg), true
}
