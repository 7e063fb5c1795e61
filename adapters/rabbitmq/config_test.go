package rabbitmq

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

const secretPassword = "s3cr3t-Pa55"

func mustParseURL(t *testing.T, target string) herald.Config {
	t.Helper()
	cfg, err := herald.ParseURL(target)
	if err != nil {
		t.Fatalf("ParseURL(%q): %v", target, err)
	}
	return cfg
}

func TestConfigDefaults(t *testing.T) {
	s, err := parse(mustParseURL(t, "amqp://app:"+secretPassword+"@rabbit.local?group=payments"))
	if err != nil {
		t.Fatal(err)
	}
	if s.host != "rabbit.local:5672" || s.vhost != "/" || s.group != "payments" {
		t.Errorf("host %q vhost %q group %q", s.host, s.vhost, s.group)
	}
	if s.pool != defaultPool || !s.confirm || s.queueType != "classic" {
		t.Errorf("defaults: %+v", s)
	}
	if strings.Contains(s.uri, secretPassword) || strings.Contains(s.uri, "app") {
		t.Errorf("uri %q carries credentials", s.uri)
	}
	auth := s.amqpConfig.SASL[0].(interface{ Response() string }).Response()
	if !strings.Contains(auth, secretPassword) {
		t.Errorf("SASL does not carry the password")
	}
	if s.amqpConfig.Properties["connection_name"] != "herald" {
		t.Errorf("connection name %v", s.amqpConfig.Properties["connection_name"])
	}
}

func TestConfigVhost(t *testing.T) {
	for target, want := range map[string]string{
		"amqp://h":            "/",
		"amqp://h/":           "/",
		"amqp://h/%2F":        "/",
		"amqp://h/payments":   "payments",
		"amqp://h/a%2Fb":      "a/b",
		"amqps://h:5671/prod": "prod",
	} {
		s, err := parse(mustParseURL(t, target))
		if err != nil {
			t.Errorf("%s: %v", target, err)
			continue
		}
		if s.vhost != want {
			t.Errorf("%s: vhost %q, want %q", target, s.vhost, want)
		}
	}
}

func TestConfigPorts(t *testing.T) {
	for target, want := range map[string]string{
		"amqp://h":        "h:5672",
		"amqps://h":       "h:5671",
		"amqp://h:1234":   "h:1234",
		"amqp://[::1]":    "[::1]:5672",
		"amqp://[::1]:99": "[::1]:99",
	} {
		s, err := parse(mustParseURL(t, target))
		if err != nil {
			t.Errorf("%s: %v", target, err)
			continue
		}
		if s.host != want {
			t.Errorf("%s: host %q, want %q", target, s.host, want)
		}
	}
}

// TestConfigErrors: every bad value is a *herald.ConfigError naming the
// key, and no error ever contains the password.
func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := "amqp://user:" + secretPassword + "@localhost:5672/"
	tlsBase := "amqps://user:" + secretPassword + "@localhost/"
	cases := []struct {
		target, key string
	}{
		{base + "?prefetch=0", "prefetch"},
		{base + "?prefetch=lots", "prefetch"},
		{base + "?prefetch=70000", "prefetch"},
		{base + "?pool=0", "pool"},
		{base + "?window=-1", "window"},
		{base + "?window=256", "window"}, // the old publish window: refused, naming what replaces it
		{base + "?confirm=maybe", "confirm"},
		{base + "?queue_type=stream", "queue_type"},
		{base + "?heartbeat=1", "heartbeat"},
		{base + "?heartbeat=10ms", "heartbeat"},
		{base + "?connect_timeout=forever", "connect_timeout"},
		{base + "?dial_timeout=forever", "dial_timeout"}, // the older name: its own key in errors
		{base + "?dial_timeout=1s&connect_timeout=1s", "dial_timeout"},
		{base + "?connection_name=a&client_id=b", "connection_name"},
		{base + "?tls=true", "tls"},
		{tlsBase + "?tls=false", "tls"},
		{tlsBase + "?tls_insecure=true", "tls_insecure"}, // NATS's older name, never read here
		{tlsBase + "?tls_skip_verify=true&tls_insecure_skip_verify=true", "tls_skip_verify"},
		{base + "?reconnect_max=1h", "reconnect_max"},
		{base + "?bogus=1", "bogus"},
		{base + "?password=" + secretPassword, "password"},
		{base + "?tls_ca=/x.pem", "tls_ca"},
		{base + "?tls_skip_verify=true", "tls_skip_verify"},
		{tlsBase + "?tls_ca=" + filepath.Join(dir, "missing.pem"), "tls_ca"},
		{tlsBase + "?tls_ca=" + notPEM, "tls_ca"},
		{tlsBase + "?tls_cert=" + notPEM, "tls_key"},
		{tlsBase + "?tls_key=" + notPEM, "tls_cert"},
		{tlsBase + "?tls_cert=" + notPEM + "&tls_key=" + notPEM, "tls_cert"},
		{tlsBase + "?tls_skip_verify=sometimes", "tls_skip_verify"},
		{"amqp://user:" + secretPassword + "@/vhost", "hosts"},
		{"amqp://user:" + secretPassword + "@a:5672,b,a/", "hosts"},
		{base + "?group=" + strings.Repeat("g", 300), "group"},
		{"amqp://user:" + secretPassword + "@h/" + strings.Repeat("v", 300), "path"},
	}
	for _, tc := range cases {
		cfg, err := herald.ParseURL(tc.target)
		if err == nil {
			err = Driver{}.Validate(cfg)
		}
		if err == nil {
			t.Errorf("%s: no error", tc.target)
			continue
		}
		if strings.Contains(err.Error(), secretPassword) {
			t.Errorf("%s: error leaks the password: %v", tc.target, err)
		}
		var ce *herald.ConfigError
		if !errors.As(err, &ce) || !errors.Is(err, herald.ErrInvalidConfig) {
			t.Errorf("%s: %T is not a ConfigError: %v", tc.target, err, err)
			continue
		}
		if !strings.Contains(err.Error(), `key "`+tc.key+`"`) {
			t.Errorf("%s: error does not name key %q: %v", tc.target, tc.key, err)
		}
		if ce.Allowed == "" && !strings.Contains(err.Error(), "allowed") {
			t.Errorf("%s: error does not say what is allowed: %v", tc.target, err)
		}
	}
}

func TestConfigTLS(t *testing.T) {
	s, err := parse(mustParseURL(t, "amqps://u:p@rabbit.example.com/?tls_server_name=other.example.com&tls_skip_verify=true"))
	if err != nil {
		t.Fatal(err)
	}
	tc := s.amqpConfig.TLSClientConfig
	if tc == nil || tc.ServerName != "other.example.com" || !tc.InsecureSkipVerify {
		t.Fatalf("TLS config %+v", tc)
	}
	// The name every backend takes.
	s, err = parse(mustParseURL(t, "amqps://u:p@rabbit.example.com/?tls_insecure_skip_verify=true"))
	if err != nil {
		t.Fatal(err)
	}
	if tc := s.amqpConfig.TLSClientConfig; tc == nil || !tc.InsecureSkipVerify {
		t.Fatalf("tls_insecure_skip_verify=true: TLS config %+v", tc)
	}
	s, err = parse(mustParseURL(t, "amqps://u:p@rabbit.example.com/"))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.tls.For(s.hosts[0]).ServerName; got != "rabbit.example.com" {
		t.Errorf("server name %q", got)
	}
	if s, _ := parse(mustParseURL(t, "amqp://u:p@h/")); s.amqpConfig.TLSClientConfig != nil {
		t.Error("amqp:// has a TLS config")
	}
}

// TestConnectErrorHasNoPassword dials a port where nothing listens and a
// real broker with a wrong password: neither error contains the password.
func TestConnectErrorHasNoPassword(t *testing.T) {
	targets := []string{"amqp://user:" + secretPassword + "@127.0.0.1:1/?connect_timeout=1s"}
	if u := brokerURLOrEmpty(); u != "" {
		cfg := mustParseURL(t, u)
		cfg.Username, cfg.Password = "herald-nobody", secretPassword
		targets = append(targets, cfg.URL())
	}
	for _, target := range targets {
		cfg := mustParseURL(t, target)
		// (A wrong password costs seconds: the broker delays its answer.)
		_, err := Driver{}.OpenTopic(t.Context(), cfg, adapters.Env{})
		if err == nil {
			t.Fatalf("%s: connected", cfg)
		}
		if strings.Contains(err.Error(), secretPassword) {
			t.Errorf("error leaks the password: %v", err)
		}
		want := herald.KindUnreachable
		if strings.Contains(target, "herald-nobody") {
			want = herald.KindDenied
		}
		kindIs(t, target, err, want)
		t.Log(err)
	}
}

// TestConfigCommonOptions: prefetch is the facade's (adapters.SplitCommon)
// and passes Validate; every option the driver reads is listed by an
// unknown key's error, and nothing else.
func TestConfigCommonOptions(t *testing.T) {
	if err := (Driver{}).Validate(mustParseURL(t, "amqp://h/?prefetch=64&pool=4&confirm=false&queue_type=quorum&heartbeat=5s&connect_timeout=1s&reconnect_max=2s&client_id=x")); err != nil {
		t.Fatalf("every option: %v", err)
	}
	// The older names, until the next release.
	if err := (Driver{}).Validate(mustParseURL(t, "amqps://h/?dial_timeout=1s&connection_name=x&tls_skip_verify=true")); err != nil {
		t.Fatalf("older names: %v", err)
	}
	err := Driver{}.Validate(mustParseURL(t, "amqp://h/?nope=1"))
	var ce *herald.ConfigError
	if !errors.As(err, &ce) || ce.Key != "nope" {
		t.Fatalf("unknown option: %v", err)
	}
	allowed := strings.Split(ce.Allowed, ", ")
	want := []string{"client_id", "confirm", "connect_timeout", "group", "heartbeat", "pool", "prefetch", "queue_type", "reconnect_max",
		"tls", "tls_ca", "tls_cert", "tls_insecure_skip_verify", "tls_key", "tls_server_name"}
	if !slices.Equal(allowed, want) {
		t.Errorf("allowed options %v; want %v", allowed, want)
	}
	err = Driver{}.Validate(mustParseURL(t, "amqp://h/?window=8"))
	if !errors.As(err, &ce) || ce.Key != "window" || !strings.Contains(ce.Allowed, "WithAsyncWindow") {
		t.Errorf("window: %v; want it refused, naming what replaces it", err)
	}
}

// TestCapabilities: attempts are counted on quorum queues only; a
// private queue is always classic.
func TestCapabilities(t *testing.T) {
	for target, counts := range map[string]bool{
		"amqp://h/?group=g":                        false,
		"amqp://h/?group=g&queue_type=quorum":      true,
		"amqp://h1,h2/?group=g":                    true, // a cluster: quorum by default
		"amqp://h1,h2/":                            false,
		"amqp://h/?queue_type=quorum":              false, // private: classic
		"amqp://h1,h2/?group=g&queue_type=classic": false,
	} {
		c := Driver{}.Capabilities(mustParseURL(t, target))
		if c.CountsAttempts != counts || c.Redelivery != adapters.RedeliverBroker || c.NackDelay || c.Order != adapters.OrderQueue ||
			!c.Durable || !c.Groups || c.DefaultWindow != defaultWindow {
			t.Errorf("%s: %+v; want CountsAttempts %v", target, c, counts)
		}
	}
}
