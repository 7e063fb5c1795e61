// Package certs makes the certificates of TLS tests with crypto/x509 only
// (no openssl, no keytool): a CA, a server certificate for 127.0.0.1, ::1
// and localhost, a client certificate, and a second, unrelated CA with a
// client certificate of its own for the "wrong CA" cases. Keys are ECDSA
// P-256, written as PKCS#8 PEM, which Go, Erlang (RabbitMQ), Java (Kafka's
// PEM key stores) and nats-server all read.
package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Set is a generated set of PEM files in Dir. Every field but Dir is the
// path of one file.
type Set struct {
	Dir string

	// CA signs ServerCert and ClientCert.
	CA string
	// ServerCert and ServerKey: a server certificate for 127.0.0.1, ::1
	// and localhost, signed by CA. ServerBundle holds the key, then the
	// certificate and CA (a PEM key store, as Kafka reads one).
	ServerCert, ServerKey, ServerBundle string
	// ClientCert and ClientKey: a client certificate (CN "herald-client"),
	// signed by CA.
	ClientCert, ClientKey string

	// WrongCA is a CA that signed neither ServerCert nor ClientCert.
	WrongCA string
	// WrongClientCert and WrongClientKey: a client certificate signed by
	// WrongCA, which a server trusting only CA refuses.
	WrongClientCert, WrongClientKey string
}

// New writes a fresh Set into dir (created if missing). The certificates
// are valid from an hour ago for a day.
func New(dir string) (*Set, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	s := &Set{Dir: dir}
	w := &writer{dir: dir}

	ca, err := newCA("herald test CA")
	if err != nil {
		return nil, err
	}
	wrong, err := newCA("herald wrong CA")
	if err != nil {
		return nil, err
	}
	server, err := ca.issue("127.0.0.1", true)
	if err != nil {
		return nil, err
	}
	client, err := ca.issue("herald-client", false)
	if err != nil {
		return nil, err
	}
	wrongClient, err := wrong.issue("herald-client", false)
	if err != nil {
		return nil, err
	}

	s.CA = w.file("ca.pem", certPEM(ca.der))
	s.WrongCA = w.file("wrong-ca.pem", certPEM(wrong.der))
	s.ServerCert = w.file("server.pem", certPEM(server.der), certPEM(ca.der))
	s.ServerKey = w.file("server-key.pem", server.keyPEM)
	s.ServerBundle = w.file("server-bundle.pem", server.keyPEM, certPEM(server.der), certPEM(ca.der))
	s.ClientCert = w.file("client.pem", certPEM(client.der))
	s.ClientKey = w.file("client-key.pem", client.keyPEM)
	s.WrongClientCert = w.file("wrong-client.pem", certPEM(wrongClient.der))
	s.WrongClientKey = w.file("wrong-client-key.pem", wrongClient.keyPEM)
	if w.err != nil {
		return nil, w.err
	}
	return s, nil
}

// ServerTLS returns a server configuration with ServerCert; when
// clientCA is true it requires client certificates signed by CA.
func (s *Set) ServerTLS(requireClientCert bool) (*tls.Config, error) {
	pair, err := tls.LoadX509KeyPair(s.ServerCert, s.ServerKey)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}
	if requireClientCert {
		pool := x509.NewCertPool()
		pemBytes, err := os.ReadFile(s.CA)
		if err != nil {
			return nil, err
		}
		if !pool.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("certs: %s holds no certificate", s.CA)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// KeyPEMs returns the contents of every private key file, for tests that
// check no key material leaks into errors or logs.
func (s *Set) KeyPEMs() ([][]byte, error) {
	var out [][]byte
	for _, p := range []string{s.ServerKey, s.ClientKey, s.WrongClientKey} {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

type authority struct {
	cert *x509.Certificate
	der  []byte
	key  *ecdsa.PrivateKey
}

type leaf struct {
	der    []byte
	keyPEM []byte
}

func newCA(name string) (*authority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := template(name)
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &authority{cert: cert, der: der, key: key}, nil
}

// issue signs a certificate for cn: a server certificate (for 127.0.0.1,
// ::1 and localhost) or a client one.
func (a *authority) issue(cn string, server bool) (*leaf, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := template(cn)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback}
		tmpl.DNSNames = []string{"localhost"}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, &key.PublicKey, a.key)
	if err != nil {
		return nil, err
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &leaf{der: der, keyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})}, nil
}

func template(cn string) *x509.Certificate {
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"Herald tests"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
	}
}

func certPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// writer writes files into dir and keeps the first error.
type writer struct {
	dir string
	err error
}

func (w *writer) file(name string, parts ...[]byte) string {
	path := filepath.Join(w.dir, name)
	var all []byte
	for _, p := range parts {
		all = append(all, p...)
	}
	if err := os.WriteFile(path, all, 0o600); err != nil && w.err == nil {
		w.err = err
	}
	return path
}
