package tlsopt

import (
	"bytes"
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldkit/herald"
)

func mustParse(t *testing.T, url string) herald.Config {
	t.Helper()
	cfg, err := herald.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestReadOptions: the same options mean the same on every scheme; each
// problem is a *herald.ConfigError naming the key and what is allowed.
func TestReadOptions(t *testing.T) {
	ca := newPKI(t, "ca")
	_, cert, key := ca.leaf("client", leafOpts{client: true})
	for _, c := range []struct {
		url     string
		on      bool
		errKey  string // the key the error names; "" for none
		errText string
	}{
		{url: "kafka://h:9092", on: false},
		{url: "kafka://h:9092?tls=true", on: true},
		{url: "kafka://h:9092?tls=false", on: false},
		{url: "kafka://h:9092?tls_ca=" + ca.file, on: true},
		{url: "kafka://h:9092?tls_insecure_skip_verify=true", on: true},
		{url: "kafka://h:9092?tls_server_name=broker", on: true},
		{url: "kafka://h:9092?tls_cert=" + cert + "&tls_key=" + key, on: true},
		{url: "kafka://h:9092?tls=false&tls_ca=" + ca.file, errKey: "tls", errText: "tls_ca set"},
		{url: "kafka://h:9092?tls_cert=" + cert, errKey: "tls_key", errText: "is missing"},
		{url: "kafka://h:9092?tls_key=" + key, errKey: "tls_cert", errText: "is missing"},
		{url: "kafka://h:9092?tls_ca=/nonexistent/ca.pem", errKey: "tls_ca", errText: "no such file"},
		{url: "kafka://h:9092?tls_ca=" + key, errKey: "tls_ca", errText: "holds no PEM certificate"},
		{url: "kafka://h:9092?tls_cert=" + key + "&tls_key=" + key, errKey: "tls_cert", errText: "cannot be loaded with tls_key"},
		{url: "kafka://h:9092?tls=maybe", errKey: "tls", errText: "not a boolean"},
		{url: "kafka://h:9092?tls_server_name=a%20b", errKey: "tls_server_name", errText: "not a host name"},
		// Older names: only where they were read, never together with the new one.
		{url: "kafka://h:9092?tls_insecure=true", errKey: "tls_insecure", errText: "not a known option"},
		{url: "nats://h:4222?tls_insecure=true", on: true},
		{url: "nats://h:4222?tls_insecure=true&tls_insecure_skip_verify=true", errKey: "tls_insecure", errText: "older name of tls_insecure_skip_verify"},
		{url: "amqps://h:5671/?tls_skip_verify=true", on: true},
		{url: "nats://h:4222?tls_skip_verify=true", errKey: "tls_skip_verify", errText: "not a known option"},
		// amqp(s): the scheme decides.
		{url: "amqps://h:5671/", on: true},
		{url: "amqps://h:5671/?tls=true", on: true},
		{url: "amqps://h:5671/?tls=false", errKey: "tls", errText: "amqps:// is TLS"},
		{url: "amqp://h:5672/", on: false},
		{url: "amqp://h:5672/?tls=false", on: false},
		{url: "amqp://h:5672/?tls=true", errKey: "tls", errText: "amqps://"},
		{url: "amqp://h:5672/?tls_ca=" + ca.file, errKey: "tls_ca", errText: "needs TLS"},
		{url: "amqp://h:5672/?tls_skip_verify=true", errKey: "tls_skip_verify", errText: "needs TLS"},
	} {
		cfg := mustParse(t, c.url)
		r := cfg.OptionReader()
		s := Read(r, cfg)
		err := r.Err()
		if c.errKey == "" {
			if err != nil {
				t.Errorf("%s: %v", c.url, err)
			} else if s.Enabled() != c.on {
				t.Errorf("%s: TLS on = %v, want %v", c.url, s.Enabled(), c.on)
			}
			continue
		}
		var ce *herald.ConfigError
		if !errors.As(err, &ce) || ce.Key != c.errKey || !strings.Contains(err.Error(), c.errText) || ce.Allowed == "" {
			t.Errorf("%s: error %v; want a ConfigError for key %q containing %q, saying what is allowed", c.url, err, c.errKey, c.errText)
		}
		if s.Enabled() && strings.HasPrefix(c.errKey, "tls_") && c.errKey != "tls_insecure" {
			t.Errorf("%s: invalid options, yet TLS settings were returned", c.url)
		}
	}
}

// TestReadBuildsConfig: the files are loaded, the names set.
func TestReadBuildsConfig(t *testing.T) {
	ca := newPKI(t, "ca")
	_, cert, key := ca.leaf("client", leafOpts{client: true})
	s, err := Parse(mustParse(t, "nats://h:4222?tls_ca="+ca.file+"&tls_cert="+cert+"&tls_key="+key+"&tls_server_name=broker.example&tls_insecure=yes&other=1"))
	if err != nil {
		t.Fatal(err)
	}
	c := s.Config
	if c.RootCAs == nil || len(c.Certificates) != 1 || c.ServerName != "broker.example" || !c.InsecureSkipVerify || c.MinVersion != tls.VersionTLS12 {
		t.Errorf("config %+v", c)
	}
	if s.CA != ca.file || s.Cert != cert || !s.Insecure {
		t.Errorf("settings %+v", s)
	}
	if got := s.For("10.0.0.1:4222").ServerName; got != "broker.example" {
		t.Errorf("For with tls_server_name: ServerName %q", got)
	}
	s, _ = Parse(mustParse(t, "kafka://h:9092?tls=true"))
	for addr, want := range map[string]string{"b1.example:9093": "b1.example", "[::1]:9093": "::1", "b2": "b2"} {
		if got := s.For(addr).ServerName; got != want {
			t.Errorf("For(%q).ServerName = %q, want %q", addr, got, want)
		}
	}
	if s.For("x").ServerName == s.Config.ServerName && s.Config.ServerName != "" {
		t.Error("For changed the shared Config")
	}
	if (Settings{}).For("h:1") != nil {
		t.Error("For on plaintext settings is not nil")
	}
}

// TestErrorsHoldNoKeyMaterial: whatever is wrong with the files, no line
// of a private key appears in an error.
func TestErrorsHoldNoKeyMaterial(t *testing.T) {
	ca := newPKI(t, "ca")
	other := newPKI(t, "other")
	_, cert, key := ca.leaf("client", leafOpts{client: true})
	_, _, otherKey := other.leaf("client2", leafOpts{client: true})
	broken := filepath.Join(t.TempDir(), "broken-key.pem")
	pemKey, _ := os.ReadFile(key)
	if err := os.WriteFile(broken, pemKey[:len(pemKey)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	var lines [][]byte
	for _, f := range []string{key, otherKey} {
		b, _ := os.ReadFile(f)
		for _, l := range bytes.Split(b, []byte("\n")) {
			if len(l) > 8 && !bytes.HasPrefix(l, []byte("-----")) {
				lines = append(lines, l)
			}
		}
	}
	for _, q := range []string{
		"tls_cert=" + cert + "&tls_key=" + otherKey, // a key that does not match
		"tls_cert=" + cert + "&tls_key=" + broken,
		"tls_cert=" + key + "&tls_key=" + key,
		"tls_cert=" + otherKey + "&tls_key=" + cert,
		"tls_ca=" + key,
	} {
		_, err := Parse(mustParse(t, "kafka://h:9092?"+q))
		if err == nil {
			t.Errorf("%s: no error", q)
			continue
		}
		for _, l := range lines {
			if strings.Contains(err.Error(), string(l)) {
				t.Errorf("%s: the error holds key material: %v", q, err)
			}
		}
	}
}

// TestModeOf: the schemes with TLS options.
func TestModeOf(t *testing.T) {
	for scheme, want := range map[string]Mode{"kafka": ByOption, "nats": ByOption, "amqps": ByScheme, "amqp": Plaintext} {
		if m, ok := ModeOf(scheme); !ok || m != want {
			t.Errorf("ModeOf(%s) = %v, %v", scheme, m, ok)
		}
	}
	for _, scheme := range []string{"mem", "embedded", ""} {
		if _, ok := ModeOf(scheme); ok {
			t.Errorf("ModeOf(%s) is ok", scheme)
		}
	}
}
