package certs_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"testing"

	"github.com/heraldkit/herald/adapters/adaptertest/certs"
)

func pool(t *testing.T, path string) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		t.Fatalf("%s holds no certificate", path)
	}
	return p
}

func leaf(t *testing.T, certFile, keyFile string) *x509.Certificate {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The server certificate verifies for 127.0.0.1, ::1 and localhost against
// CA, not against WrongCA; the client certificates verify for client
// authentication against their own CA only.
func TestChains(t *testing.T) {
	s, err := certs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ca, wrong := pool(t, s.CA), pool(t, s.WrongCA)
	server := leaf(t, s.ServerCert, s.ServerKey)
	for _, host := range []string{"127.0.0.1", "::1", "localhost"} {
		if _, err := server.Verify(x509.VerifyOptions{Roots: ca, DNSName: host}); err != nil {
			t.Errorf("server certificate for %s: %v", host, err)
		}
	}
	if _, err := server.Verify(x509.VerifyOptions{Roots: wrong, DNSName: "127.0.0.1"}); err == nil {
		t.Error("the server certificate verifies against the wrong CA")
	}
	clientAuth := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	if _, err := leaf(t, s.ClientCert, s.ClientKey).Verify(x509.VerifyOptions{Roots: ca, KeyUsages: clientAuth}); err != nil {
		t.Errorf("client certificate: %v", err)
	}
	wrongClient := leaf(t, s.WrongClientCert, s.WrongClientKey)
	if _, err := wrongClient.Verify(x509.VerifyOptions{Roots: ca, KeyUsages: clientAuth}); err == nil {
		t.Error("the wrong CA's client certificate verifies against CA")
	}
	if _, err := wrongClient.Verify(x509.VerifyOptions{Roots: wrong, KeyUsages: clientAuth}); err != nil {
		t.Errorf("the wrong CA's client certificate against its CA: %v", err)
	}
}

// ServerBundle is a PEM key store: the PKCS#8 key, then the chain.
func TestServerBundle(t *testing.T) {
	s, err := certs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(s.ServerBundle)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		types = append(types, blk.Type)
	}
	want := []string{"PRIVATE KEY", "CERTIFICATE", "CERTIFICATE"}
	if len(types) != len(want) {
		t.Fatalf("bundle blocks %q, want %q", types, want)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Fatalf("bundle blocks %q, want %q", types, want)
		}
	}
	keys, err := s.KeyPEMs()
	if err != nil || len(keys) != 3 {
		t.Fatalf("KeyPEMs: %d keys, %v", len(keys), err)
	}
}
