package herald

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// secretOptionKeys are option keys whose values must never be printed:
// the ones Herald's adapters read (token, nkey, creds) and the usual
// spellings of passwords, passphrases, keys and tokens other adapters use.
var secretOptionKeys = []string{
	"token", "auth_token", "access_token", "nkey", "nkey_seed", "seed", "creds", "credentials",
	"user_jwt", "jwt", "password", "sasl_password", "tls_key_password", "tls_passphrase",
	"tls_key_passphrase", "client_secret", "secret", "api_key", "apikey", "private_key",
}

// plainOptionKeys hold no secret and stay readable (tls_key is a path).
var plainOptionKeys = []string{"mode", "stream", "sasl", "tls_key", "tls_cert", "tls_ca", "prefetch"}

// encodings are every way a Config or its Options are printed or encoded.
func encodings(t *testing.T, cfg Config) map[string]string {
	t.Helper()
	out := map[string]string{}
	enc := func(name string, b []byte, err error) {
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = string(b)
	}
	b, err := json.Marshal(cfg)
	enc("json.Marshal(cfg)", b, err)
	b, err = json.Marshal(&cfg)
	enc("json.Marshal(&cfg)", b, err)
	b, err = json.Marshal(cfg.Options)
	enc("json.Marshal(cfg.Options)", b, err)
	b, err = json.Marshal(map[string]any{"nested": []Config{cfg}})
	enc("json.Marshal(nested)", b, err)
	b, err = yaml.Marshal(cfg)
	enc("yaml.Marshal(cfg)", b, err)
	b, err = yaml.Marshal(&cfg)
	enc("yaml.Marshal(&cfg)", b, err)
	b, err = yaml.Marshal(cfg.Options)
	enc("yaml.Marshal(cfg.Options)", b, err)
	if tm, ok := any(cfg.Options).(interface{ MarshalText() ([]byte, error) }); ok {
		b, err = tm.MarshalText()
		enc("cfg.Options.MarshalText", b, err)
	} else {
		t.Errorf("Options has no MarshalText")
	}
	b, err = cfg.Password.MarshalText()
	enc("cfg.Password.MarshalText", b, err)
	out["cfg.String"] = cfg.String()
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		out["fmt "+verb+" cfg"] = fmt.Sprintf(verb, cfg)
		out["fmt "+verb+" &cfg"] = fmt.Sprintf(verb, &cfg)
		out["fmt "+verb+" cfg.Options"] = fmt.Sprintf(verb, cfg.Options)
		out["fmt "+verb+" []Config"] = fmt.Sprintf(verb, []Config{cfg})
		out["fmt "+verb+" struct"] = fmt.Sprintf(verb, struct{ C Config }{cfg})
	}
	if s, ok := any(cfg.Options).(fmt.Stringer); ok {
		out["cfg.Options.String"] = s.String()
	} else {
		t.Errorf("Options has no String method")
	}
	for name, h := range map[string]func(*bytes.Buffer) slog.Handler{
		"slog text": func(w *bytes.Buffer) slog.Handler { return slog.NewTextHandler(w, nil) },
		"slog json": func(w *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(w, nil) },
	} {
		var w bytes.Buffer
		l := slog.New(h(&w))
		l.Info("m", "cfg", cfg, "pcfg", &cfg, "options", cfg.Options, "pw", cfg.Password)
		l.Info("m", slog.Any("cfg", cfg), slog.Any("options", cfg.Options))
		l.With("cfg", cfg).WithGroup("g").Info("m", "options", cfg.Options)
		out[name] = w.String()
	}
	return out
}

// TestSecretOptionsNeverPrint: for every secret option key and every
// encoding, the value is redacted, the key stays visible, and the
// value is still there for the adapter to read.
func TestSecretOptionsNeverPrint(t *testing.T) {
	const pw = "hunter2-s3cr3t-"
	for _, key := range secretOptionKeys {
		t.Run(key, func(t *testing.T) {
			if !IsSecretKey(key) {
				t.Errorf("IsSecretKey(%q) = false", key)
			}
			val := pw + key
			cfg, err := ParseURL("amqp://user:" + pw + "pass@localhost:5672/?group=g&mode=core&" + url.QueryEscape(key) + "=" + url.QueryEscape(val))
			if err != nil {
				t.Fatal(err)
			}
			for name, out := range encodings(t, cfg) {
				if strings.Contains(out, pw) {
					t.Errorf("%s leaks a secret: %s", name, out)
				}
				if !strings.Contains(out, key) && !strings.Contains(name, "Password") && !strings.Contains(name, "%x") {
					t.Errorf("%s does not show the key %q: %s", name, key, out)
				}
				if !strings.Contains(name, "%x") && !strings.Contains(name, "Password") && !strings.Contains(out, "core") {
					t.Errorf("%s hides a plain option: %s", name, out)
				}
			}
			if cfg.Options[key] != val {
				t.Errorf("cfg.Options[%q] = %q; want the real value", key, cfg.Options[key])
			}
			r := cfg.OptionReader()
			if got := r.String(key, ""); got != val {
				t.Errorf("OptionReader.String(%q) = %q; want the real value", key, got)
			}
			if again, err := ParseURL(cfg.URL()); err != nil || again.Options[key] != val || again.Password.Value() != pw+"pass" {
				t.Errorf("URL() does not round-trip the secrets: %v", err)
			}
		})
	}
}

// TestPlainOptionsPrint: keys that are not secret keep their values.
func TestPlainOptionsPrint(t *testing.T) {
	for _, key := range plainOptionKeys {
		if IsSecretKey(key) {
			t.Errorf("IsSecretKey(%q) = true; its value is not secret", key)
		}
		cfg := Config{Scheme: "kafka", Hosts: []string{"h:9092"}, Options: map[string]string{key: "visible-value"}}
		for name, out := range encodings(t, cfg) {
			if !strings.Contains(name, "%x") && !strings.Contains(name, "Password") && !strings.Contains(out, "visible-value") {
				t.Errorf("%s hides the value of %q: %s", name, key, out)
			}
		}
	}
}
