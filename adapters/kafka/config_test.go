package kafka

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

const secretPassword = "s3cr3t-Pa55w0rd"

func mustParse(t *testing.T, target string) herald.Config {
	t.Helper()
	cfg, err := herald.ParseURL(target)
	if err != nil {
		t.Fatalf("ParseURL(%q): %v", target, err)
	}
	return cfg
}

func TestConfigDefaults(t *testing.T) {
	s, err := parse(mustParse(t, "kafka://k1,k2:9093,[::1]?group=payments"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.brokers, " "); got != "k1:9092 k2:9093 [::1]:9092" {
		t.Errorf("brokers %q", got)
	}
	if s.group != "payments" || s.acks != "all" || !s.idempotent || s.compression != kgo.NoCompression() ||
		s.partitions != defaultPartitions || s.replicationFactor != replicationAuto || s.minInsyncReplicas != replicationAuto || s.maxMessageBytes != defaultMaxMessageBytes ||
		s.initialOffset != offsetOldest || s.sessionTimeout != defaultSessionTimeout ||
		s.clientID != "herald" || s.version != "3.6.0" || s.tls != nil || s.sasl != "" {
		t.Errorf("defaults: %+v", s)
	}
	if err := validClientOpts(s); err != nil {
		t.Errorf("default franz-go options invalid: %v", err)
	}

	private, err := parse(mustParse(t, "kafka://k1"))
	if err != nil {
		t.Fatal(err)
	}
	if private.initialOffset != offsetNewest {
		t.Errorf("a private consumer starts at %d; want newest", private.initialOffset)
	}
}

func TestConfigOptions(t *testing.T) {
	s, err := parse(mustParse(t, "kafka://u:"+secretPassword+"@k1?acks=leader&compression=zstd&partitions=12"+
		"&replicas=3&min_insync_replicas=-1&max_message_bytes=4096&start=newest&session_timeout=20s&client_id=billing-1&connect_timeout=3s"+
		"&version=4.0.0&sasl=scram-sha-512&tls=true&tls_insecure_skip_verify=true&group=g"))
	if err != nil {
		t.Fatal(err)
	}
	if s.acks != "leader" || s.idempotent || s.compression != kgo.ZstdCompression() || s.partitions != 12 ||
		s.replicationFactor != 3 || s.minInsyncReplicas != replicationBroker || s.maxMessageBytes != 4096 || s.initialOffset != offsetNewest ||
		s.sessionTimeout != 20*time.Second || s.clientID != "billing-1" || s.version != "4.0.0" || s.connectTimeout != 3*time.Second ||
		s.sasl != saslSCRAMSHA512 || s.tls == nil || !s.tls.InsecureSkipVerify {
		t.Errorf("options: %+v", s)
	}
	if err := validClientOpts(s); err != nil {
		t.Fatalf("franz-go options invalid: %v", err)
	}
	if m := s.saslMechanism(); m == nil || m.Name() != "SCRAM-SHA-512" {
		t.Errorf("SASL not configured: %v", m)
	}
	// tls_server_name alone turns TLS on and names the certificate to expect.
	s, err = parse(mustParse(t, "kafka://k1?tls_server_name=kafka.example"))
	if err != nil {
		t.Fatal(err)
	}
	if s.tls == nil || s.tls.ServerName != "kafka.example" {
		t.Errorf("tls_server_name: TLS config %+v", s.tls)
	}
	for _, q := range []string{"acks=none", "acks=all&idempotent=false", "sasl=plain", "sasl=scram-sha-256", "compression=gzip"} {
		target := "kafka://u:p@k1?" + q
		if !strings.Contains(q, "sasl") {
			target = "kafka://k1?" + q
		}
		s, err := parse(mustParse(t, target))
		if err != nil {
			t.Errorf("%s: %v", q, err)
			continue
		}
		if err := validClientOpts(s); err != nil {
			t.Errorf("%s: franz-go options invalid: %v", q, err)
		}
	}
}

// TestConfigErrors: every bad value is a *herald.ConfigError naming its
// key, and no error shows the password.
func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	cred := "u:" + secretPassword + "@"
	for _, tc := range []struct{ target, key string }{
		{"kafka://", "hosts"},
		{"kafka://" + cred + "?sasl=plain", "hosts"},
		{"kafka://k1/some/path", "path"},
		{"kafka://k1?acks=most", "acks"},
		{"kafka://k1?idempotent=maybe", "idempotent"},
		{"kafka://k1?acks=leader&idempotent=true", "idempotent"},
		{"kafka://k1?compression=brotli", "compression"},
		{"kafka://k1?partitions=0", "partitions"},
		{"kafka://k1?partitions=many", "partitions"},
		{"kafka://k1?replicas=0", "replicas"},
		{"kafka://k1?replicas=-2", "replicas"},
		{"kafka://k1?replicas=three", "replicas"},
		{"kafka://k1?replication_factor=three", "replication_factor"}, // the older name: its own key in errors
		{"kafka://k1?replication_factor=3&replicas=3", "replication_factor"},
		{"kafka://k1?min_insync_replicas=0", "min_insync_replicas"},
		{"kafka://k1?min_insync_replicas=x", "min_insync_replicas"},
		{"kafka://k1?replicas=2&min_insync_replicas=3", "min_insync_replicas"},
		{"kafka://k1?max_message_bytes=10", "max_message_bytes"},
		{"kafka://k1?start=latest", "start"},
		{"kafka://k1?initial_offset=latest", "initial_offset"},
		{"kafka://k1?initial_offset=oldest&start=oldest", "initial_offset"},
		{"kafka://k1?connect_timeout=1ns", "connect_timeout"},
		{"kafka://k1?tls_insecure=true", "tls_insecure"}, // NATS's older name, never read here
		{"kafka://k1?session_timeout=1s", "session_timeout"},
		{"kafka://k1?window=0", "window"},
		{"kafka://k1?window=64", "window"},     // the facade's: refused by the driver
		{"kafka://k1?prefetch=64", "prefetch"}, // the facade's: refused by the driver
		{"kafka://k1?session_timeout=soon", "session_timeout"},
		{"kafka://k1?client_id=has%20space", "client_id"},
		{"kafka://k1?version=0.10.2", "version"},
		{"kafka://k1?version=latest", "version"},
		{"kafka://k1?tls=maybe", "tls"},
		{"kafka://k1?tls=false&tls_ca=" + notPEM, "tls"},
		{"kafka://k1?tls_ca=" + filepath.Join(dir, "missing.pem"), "tls_ca"},
		{"kafka://k1?tls_ca=" + notPEM, "tls_ca"},
		{"kafka://k1?tls_cert=" + notPEM, "tls_key"},
		{"kafka://k1?tls_key=" + notPEM, "tls_cert"},
		{"kafka://k1?tls_cert=" + notPEM + "&tls_key=" + notPEM, "tls_cert"},
		{"kafka://k1?tls_insecure_skip_verify=perhaps", "tls_insecure_skip_verify"},
		{"kafka://" + cred + "k1?sasl=gssapi", "sasl"},
		{"kafka://" + cred + "k1", "sasl"},
		{"kafka://k1?sasl=plain", "username"},
		{"kafka://u@k1?sasl=scram-sha-256", "password"},
		{"kafka://" + cred + "k1?sasl=plain&colour=blue", "colour"},
		{"kafka://" + cred + "k1?sasl=plain&password_file=x", "password_file"},
	} {
		cfg := mustParse(t, tc.target)
		err := Driver{}.Validate(cfg)
		if err == nil {
			t.Errorf("%s: no error; want one for key %q", tc.target, tc.key)
			continue
		}
		if !errors.Is(err, herald.ErrInvalidConfig) {
			t.Errorf("%s: %v does not wrap ErrInvalidConfig", tc.target, err)
		}
		if !hasKey(err, tc.key) {
			t.Errorf("%s: %v: no ConfigError for key %q", tc.target, err, tc.key)
		}
		for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
			if strings.Contains(text, secretPassword) {
				t.Errorf("%s: error shows the password: %s", tc.target, text)
			}
		}
		if tc.key == "prefetch" || strings.Contains(tc.target, "window=64") {
			continue // the facade takes them out first (below)
		}
		// The facade validates the same way before connecting.
		dcfg, _, err := adapters.SplitCommon(cfg)
		if err == nil {
			_, err = adapters.For(dcfg)
		}
		if !hasKey(err, tc.key) {
			t.Errorf("%s: adapters.SplitCommon + For: %v; want a ConfigError for %q", tc.target, err, tc.key)
		}
	}
}

// TestConsumeWindowIsTheFacades: prefetch, and Kafka's older name window,
// are read by the facade (adapters.SplitCommon), not by the driver: what
// is left validates, and the driver alone refuses them like any option
// no code of it reads.
func TestConsumeWindowIsTheFacades(t *testing.T) {
	for _, tc := range []struct {
		target string
		want   int
	}{
		{"kafka://k1?prefetch=32&group=g", 32},
		{"kafka://k1?window=64", 64},
	} {
		cfg := mustParse(t, tc.target)
		dcfg, common, err := adapters.SplitCommon(cfg)
		if err != nil || common.Prefetch != tc.want {
			t.Fatalf("%s: SplitCommon: %+v, %v; want prefetch %d", tc.target, common, err, tc.want)
		}
		if _, err := adapters.For(dcfg); err != nil {
			t.Errorf("%s: the rest does not validate: %v", tc.target, err)
		}
		if err := (Driver{}).Validate(cfg); err == nil {
			t.Errorf("%s: the driver accepted the facade's option", tc.target)
		}
	}
	if _, _, err := adapters.SplitCommon(mustParse(t, "kafka://k1?prefetch=1&window=2")); !hasKey(err, "window") {
		t.Errorf("prefetch and window both set: %v; want a ConfigError for window", err)
	}
}

// hasKey reports whether err (possibly joined) holds a ConfigError for key.
func hasKey(err error, key string) bool {
	if ce, ok := err.(*herald.ConfigError); ok {
		return ce.Key == key && ce.Problem != "" && ce.Allowed != ""
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			if hasKey(e, key) {
				return true
			}
		}
	}
	return false
}

func TestConfigTLSFiles(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeCert(t, dir, "a")
	_, otherKey := writeCert(t, dir, "b")
	s, err := parse(mustParse(t, "kafka://k1?tls_ca="+certFile+"&tls_cert="+certFile+"&tls_key="+keyFile))
	if err != nil {
		t.Fatal(err)
	}
	if s.tls == nil || s.tls.RootCAs == nil || len(s.tls.Certificates) != 1 || s.tls.InsecureSkipVerify {
		t.Fatalf("tls: %+v", s.tls)
	}
	if err := validClientOpts(s); err != nil {
		t.Fatal(err)
	}
	_, err = parse(mustParse(t, "kafka://k1?tls_cert="+certFile+"&tls_key="+otherKey))
	if !hasKey(err, "tls_cert") {
		t.Errorf("mismatched key: %v", err)
	}
}

// writeCert writes a self-signed certificate and its key as PEM files.
func writeCert(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// validClientOpts builds (without connecting) a franz-go client with s's
// options: franz-go validates them.
func validClientOpts(s settings) error {
	cl, err := kgo.NewClient(s.clientOpts(newNetGuard(time.Second, 0))...)
	if err != nil {
		return err
	}
	cl.Close()
	return nil
}

// TestOlderNames: the older names of replicas and start (and of prefetch,
// window, read by the facade) still work until the next release, and mean
// what the new names mean.
func TestOlderNames(t *testing.T) {
	older, err := parse(mustParse(t, "kafka://k1?replication_factor=2&initial_offset=newest&group=g"))
	if err != nil {
		t.Fatal(err)
	}
	newer, err := parse(mustParse(t, "kafka://k1?replicas=2&start=newest&group=g"))
	if err != nil {
		t.Fatal(err)
	}
	if older.replicationFactor != 2 || newer.replicationFactor != 2 || older.initialOffset != offsetNewest || newer.initialOffset != offsetNewest {
		t.Errorf("older names: replicas %d, start %d; newer: %d, %d", older.replicationFactor, older.initialOffset, newer.replicationFactor, newer.initialOffset)
	}
}
