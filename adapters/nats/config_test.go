package nats_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/internal/natsx/natsxtest"
)

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.creds")
	for _, tc := range []struct {
		url, key, want string
	}{
		{"nats://localhost:4222?mode=fast", "mode", "jetstream, core"},
		{"nats://localhost:4222?bogus=1", "bogus", "not a known option"},
		{"nats://localhost:4222?ack_wait=soon", "ack_wait", "not a duration"},
		{"nats://localhost:4222?ack_wait=10ms", "ack_wait", "out of range"},
		{"nats://localhost:4222?max_deliver=0", "max_deliver", "out of range"},
		{"nats://localhost:4222?max_deliver=2&backoff=1s,2s", "backoff", "max_deliver"},
		{"nats://localhost:4222?backoff=1s,later", "backoff", "durations"},
		{"nats://localhost:4222?storage=disk", "storage", "file, memory"},
		{"nats://localhost:4222?prefetch=0", "prefetch", "not a window size"},
		{"nats://localhost:4222?window=8", "window", "not a known option"},
		{"nats://localhost:4222?nak_delay=3s", "nak_delay", "not an option any more"},
		{"nats://localhost:4222?publish_timeout=5s", "publish_timeout", "not an option any more"},
		{"nats://localhost:4222?max_pending=64", "max_pending", "not an option any more"},
		{"nats://localhost:4222?close_timeout=1s", "close_timeout", "not an option any more"},
		{"nats://localhost:4222?mode=core&nak_delay=1s", "nak_delay", "not an option any more"},
		{"nats://localhost:4222?stream=a.b", "stream", "not a valid stream name"},
		{"nats://localhost:4222?subjects=a.>", "subjects", "needs the stream option"},
		{"nats://localhost:4222?mode=core&ack_wait=5s", "ack_wait", "only to JetStream"},
		{"nats://localhost:4222?deliver=first", "deliver", "all, new"},
		{"nats://localhost:4222?start=first", "start", "oldest, newest"},
		{"nats://localhost:4222?start=oldest&deliver=all", "deliver", "older name of start"},
		{"nats://localhost:4222?name=a&client_id=b", "name", "older name of client_id"},
		{"nats://localhost:4222?tls_skip_verify=true", "tls_skip_verify", "not a known option"},
		{"nats://localhost:4222?mode=core&deliver=new", "deliver", "only to JetStream"},
		{"nats://localhost:4222?mode=core&group=a%20b", "group", "queue group"},
		{"nats://localhost:4222/vhost", "path", "not used"},
		{"nats://user@localhost:4222", "password", "is missing"},
		{"nats://localhost:4222?creds=" + missing, "creds", "cannot be read"},
		{"nats://localhost:4222?nkey=" + missing, "nkey", "cannot be read"},
		{"nats://localhost:4222?tls_ca=" + missing, "tls_ca", "cannot be read"},
		{"nats://localhost:4222?tls_cert=/x.pem", "tls_key", "together"},
		{"nats://localhost:4222?tls=false&tls_insecure=true", "tls", "tls_*"},
		{"nats://localhost:4222?tls=maybe", "tls", "not a boolean"},
		{"nats://u:p@localhost:4222?token=t", "auth", "more than one"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			cfg, err := herald.ParseURL(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			_, err = adapters.For(cfg)
			if err == nil {
				t.Fatalf("%s: no error", tc.url)
			}
			var ce *herald.ConfigError
			if !errors.As(err, &ce) || !errors.Is(err, herald.ErrInvalidConfig) {
				t.Fatalf("%s: %v is not a *herald.ConfigError", tc.url, err)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("key %q", tc.key)) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: error %q does not name key %q and %q", tc.url, err, tc.key, tc.want)
			}
		})
	}
}

func TestConfigValid(t *testing.T) {
	for _, u := range []string{
		"nats://",
		"nats://h1:4222,h2:4222?mode=core&client_id=svc&reconnect_wait=1s&max_reconnects=10",
		"nats://h1:4222,h2:4222?mode=core&name=svc&reconnect_wait=1s&max_reconnects=10",
		"nats://u:p@localhost?stream=ORDERS&subjects=orders.>,billing.*&max_age=0s&storage=memory&replicas=3",
		"nats://localhost?ack_wait=10s&max_deliver=5&backoff=1s,5s,30s&deliver=new&max_ack_pending=100&prefetch=8",
		"nats://localhost?inactive_threshold=1m&provision=false&duplicates=1m",
		"nats://localhost?token=abc&tls=true&tls_insecure_skip_verify=true&tls_server_name=nats.example",
		"nats://localhost?start=newest&client_id=svc&connect_timeout=2s",
		// The older names, until the next release.
		"nats://localhost?token=abc&tls=true&tls_insecure=true&tls_server_name=nats.example",
	} {
		cfg, err := herald.ParseURL(u)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := adapters.For(cfg); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
}

// TestSecretsNeverLeak: passwords, tokens and nkey seeds appear in no
// error, neither from validation nor from a failed connection.
func TestSecretsNeverLeak(t *testing.T) {
	const secret = "pa55-s3cr3t-Zq9"
	// A real server that wants credentials: wrong ones are refused.
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, Username: "admin", Password: "right", NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	defer srv.Shutdown()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	addr := srv.Addr().String()
	seed := filepath.Join(t.TempDir(), "bad.nk")
	if err := os.WriteFile(seed, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{
		"nats://user:" + secret + "@localhost:4222?bogus=1",
		"nats://localhost:4222?token=" + secret + "&ack_wait=x",
		"nats://user:" + secret + "@localhost:4222?token=" + secret,
		"nats://localhost:4222?nkey=" + seed,
		"nats://user:" + secret + "@127.0.0.1:1?connect_timeout=200ms",          // connection refused
		"nats://admin:" + secret + "@" + addr + "?connect_timeout=2s",           // wrong password
		"nats://" + addr + "?token=" + secret + "&mode=core&connect_timeout=2s", // wrong token
	} {
		cfg, err := herald.ParseURL(u)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(cfg.String(), secret) || strings.Contains(fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg), secret) {
			t.Errorf("config string leaks the secret: %s", cfg)
		}
		d, err := adapters.For(cfg)
		if err == nil {
			var p adapters.Topic
			p, err = d.OpenTopic(t.Context(), cfg, natsxtest.Env())
			if err == nil {
				_ = p.Close(t.Context())
				t.Errorf("%s: opened", cfg)
				continue
			}
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(fmt.Sprintf("%+v", err), secret) {
			t.Errorf("%s: error leaks the secret: %v", cfg, err)
		}
	}
}
