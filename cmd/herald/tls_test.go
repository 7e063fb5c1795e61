package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key
// to dir and returns their paths and the TLS config of a server using it.
func selfSigned(t *testing.T, dir string) (certFile string, tc *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "herald-cli-test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

func TestDoctorTLSNATS(t *testing.T) {
	ca, tc := selfSigned(t, t.TempDir())
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: freePort(t), NoLog: true, NoSigs: true,
		JetStream: true, StoreDir: t.TempDir(), TLS: true, TLSConfig: tc, TLSTimeout: 2})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	url := "nats://" + srv.Addr().String()
	// Trusted with tls_ca: the whole check passes, the handshake shown.
	o := doctorRun(t, url+"?tls_ca="+ca)
	if !o.rep.OK || stepStatus(o.rep, "tls") != statusOK {
		t.Fatalf("doctor with tls_ca: %v\n%s", o.err, o.text)
	}
	// Without tls_ca the certificate is not trusted.
	o = wantBad(t, url+"?tls=true", "tls", problemTLS)
	if fix := o.rep.Steps[3].Fix; fix == "" || !strings.Contains(fix, "tls_ca") {
		t.Errorf("untrusted certificate fix %q; want tls_ca named", fix)
	}
	// Without tls options against a TLS-only server, nats.go upgrades
	// by itself (the server's INFO requires TLS) and meets the same
	// untrusted certificate.
	o = wantBad(t, url, "auth", problemTLS)
	if fix := o.rep.Steps[4].Fix; !strings.Contains(fix, "tls_ca") {
		t.Errorf("plaintext-to-TLS fix %q; want tls_ca named", fix)
	}
}
