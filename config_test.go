package herald

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Config
	}{
		{"mem://", Config{Scheme: "mem"}},
		{"mem://orders", Config{Scheme: "mem", Hosts: []string{"orders"}}},
		{"embedded:///var/lib/app/herald", Config{Scheme: "embedded", Path: "/var/lib/app/herald"}},
		{"KAFKA://h1:9092,h2:9092?group=payments&tls=true&sasl=scram-sha-512",
			Config{Scheme: "kafka", Hosts: []string{"h1:9092", "h2:9092"}, Group: "payments",
				Options: map[string]string{"tls": "true", "sasl": "scram-sha-512"}}},
		{"amqp://guest:guest@localhost:5672/vhost?group=payments",
			Config{Scheme: "amqp", Hosts: []string{"localhost:5672"}, Username: "guest", Password: "guest", Path: "/vhost", Group: "payments"}},
		{"amqp://u:p%40ss%3Aw0rd@[::1]:5672/%2F",
			Config{Scheme: "amqp", Hosts: []string{"[::1]:5672"}, Username: "u", Password: "p@ss:w0rd", Path: "//"}},
		{"nats://tok@localhost:4222?mode=core&stream=ORDERS&x=a%20b",
			Config{Scheme: "nats", Hosts: []string{"localhost:4222"}, Username: "tok",
				Options: map[string]string{"mode": "core", "stream": "ORDERS", "x": "a b"}}},
	} {
		got, err := ParseURL(tc.in)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseURL(%q) = %#v\nwant %#v", tc.in, got, tc.want)
		}
		again, err := ParseURL(got.URL())
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Errorf("ParseURL(%q.URL() = %q) = %#v, %v; want the same Config", tc.in, got.URL(), again, err)
		}
	}
}

// TestConfigErrors: each kind of mistake gets an error naming the key,
// the problem and what is allowed.
func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string // substrings of the error
	}{
		{"", []string{`key "url"`, "is empty", "allowed: scheme://"}},
		{"localhost:9092", []string{`key "url"`, `no "://"`, "kafka://localhost:9092"}},
		{"://host", []string{`key "scheme"`, "is missing"}},
		{"9kafka://host", []string{`key "scheme"`, `"9kafka"`, "not a valid scheme"}},
		{"kafka://h1:99999", []string{`key "hosts"`, `"h1:99999"`, "invalid port", "1-65535"}},
		{"kafka://h1:", []string{`key "hosts"`, "empty port"}},
		{"kafka://h1,,h2", []string{`key "hosts"`, "empty host"}},
		{"kafka://::1:9092", []string{`key "hosts"`, "brackets"}},
		{"kafka://[::1:9092", []string{`key "hosts"`, "unclosed"}},
		{"kafka://h1 h2:9092", []string{`key "hosts"`, "not allowed in a host"}},
		{"kafka://h1?group=a&group=b", []string{`key "group"`, "more than once"}},
		{"kafka://h1?group=", []string{`key "group"`, "is empty"}},
		{"kafka://h1?tls=1&tls=0", []string{`key "tls"`, "more than once"}},
		{"kafka://h1?=x", []string{`key "query"`, "empty key"}},
		{"kafka://h1?a=%zz", []string{`key "a"`, "percent-encoding"}},
		{"kafka://h1/\x00", []string{`key "url"`, "control character"}},
	} {
		_, err := ParseURL(tc.in)
		if err == nil {
			t.Errorf("ParseURL(%q): no error", tc.in)
			continue
		}
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("ParseURL(%q) error %v does not match ErrInvalidConfig", tc.in, err)
		}
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("ParseURL(%q) error %T is not a *ConfigError", tc.in, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("ParseURL(%q) error %q does not mention %q", tc.in, err, w)
			}
		}
	}
}

func TestOptionReader(t *testing.T) {
	cfg, err := ParseURL("x://h?n=7&d=2s&b=yes&e=Core&s=str&bad_n=x&bad_d=forever&bad_b=maybe&bad_e=bogus&range=0&typo=1&sx=1&sasl_password=hunter2")
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.OptionReader()
	if got := r.Int("n", 1, 1, 10); got != 7 {
		t.Errorf("Int = %d", got)
	}
	if got := r.Duration("d", time.Second, time.Millisecond, time.Minute); got != 2*time.Second {
		t.Errorf("Duration = %v", got)
	}
	if got := r.Bool("b", false); !got {
		t.Errorf("Bool = %v", got)
	}
	if got := r.Enum("e", "jetstream", "jetstream", "core"); got != "core" {
		t.Errorf("Enum = %q", got)
	}
	if got := r.String("s", ""); got != "str" {
		t.Errorf("String = %q", got)
	}
	if got := r.String("unset", "def"); got != "def" {
		t.Errorf("default = %q", got)
	}
	r.Int("bad_n", 1, 1, 10)
	r.Duration("bad_d", time.Second, 0, time.Hour)
	r.Bool("bad_b", false)
	r.Enum("bad_e", "a", "a", "b")
	r.Int("range", 1, 1, 10)
	r.Int("sasl_password", 0, 0, 1)
	err = r.Err()
	for _, w := range []string{
		`key "bad_n": value "x": is not an integer (allowed: an integer from 1 to 10)`,
		`key "bad_d": value "forever": is not a duration`,
		`key "bad_b": value "maybe": is not a boolean`,
		`key "bad_e": value "bogus": is not a recognised value (allowed: a, b)`,
		`key "range": value "0": is out of range`,
		`key "typo": is not a known option for scheme "x" (allowed: b, bad_b`,
		`key "sx": is not a known option for scheme "x"; did you mean "s"?`,
		`key "sasl_password": is not an integer`,
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Err() = %v\nwant it to contain %q", err, w)
		}
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("a secret option's value leaked: %v", err)
	}
	if !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("Err() does not match ErrInvalidConfig")
	}
}

// TestPasswordNeverLeaks checks every way a Config or its errors can be
// printed.
func TestPasswordNeverLeaks(t *testing.T) {
	const pw = "hunter2-s3cr3t"
	cfg, err := ParseURL("amqp://user:" + pw + "@localhost:5672/?group=g&token=" + pw + "&auth_token=" + pw)
	if err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "cfg", cfg, "pw", cfg.Password)
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "cfg", cfg, "pw", cfg.Password)
	type wrapper struct{ C Config }
	outputs := map[string]string{
		"String":    cfg.String(),
		"%v":        fmt.Sprintf("%v", cfg),
		"%+v":       fmt.Sprintf("%+v", cfg),
		"%#v":       fmt.Sprintf("%#v", cfg),
		"%s":        fmt.Sprintf("%s", cfg), //lint:ignore S1025 the %s verb is what is tested
		"%q":        fmt.Sprintf("%q", cfg),
		"nested %v": fmt.Sprintf("%+v", wrapper{cfg}),
		"pw %v":     fmt.Sprintf("%v %s %q %x %#v %+v", cfg.Password, cfg.Password, cfg.Password, cfg.Password, cfg.Password, cfg.Password),
		"slog":      logged.String(),
	}
	if b, err := cfg.Password.MarshalText(); err == nil {
		outputs["MarshalText"] = string(b)
	}
	for name, out := range outputs {
		if strings.Contains(out, pw) {
			t.Errorf("%s leaks the password: %s", name, out)
		}
	}
	if !strings.Contains(cfg.String(), "user:REDACTED@localhost:5672") {
		t.Errorf("String() = %q; want the user and a redacted password", cfg.String())
	}
	if cfg.Password.Value() != pw {
		t.Errorf("Value() = %q", cfg.Password.Value())
	}
	// Errors about a bad target never quote the password.
	for _, bad := range []string{
		"amqp://user:" + pw + "@localhost:99999/",
		"amqp://user:" + pw + "@host:5672/?token=%zz" + pw,
		"amqp://user:" + pw + "%zz@host:5672/",
		"amqp://user:" + pw + "@host:5672/?group=a&group=" + pw,
		"amqp://user:hun/" + pw + "@host:5672/",
		"amqp://user:hun?" + pw + "@host:5672/",
	} {
		_, err := ParseURL(bad)
		if err == nil {
			t.Errorf("ParseURL(%q): no error", bad)
		} else if strings.Contains(err.Error(), pw) {
			t.Errorf("error leaks the password: %v", err)
		}
	}
	// Files: a bad file with a password in it.
	dir := t.TempDir()
	f := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(f, []byte("scheme: amqp\npassword: "+pw+"\nhosts: [\"h:0\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFile(f); err == nil || strings.Contains(err.Error(), pw) {
		t.Errorf("LoadFile error = %v; want an error without the password", err)
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	want := Config{Scheme: "kafka", Hosts: []string{"b1:9092", "b2:9092"}, Username: "svc", Password: "pw", Group: "payments",
		Options: map[string]string{"partitions": "6", "tls": "true"}}
	yamlFile := write("c.yaml", "url: kafka://svc:pw@b1:9092,b2:9092\ngroup: payments\noptions:\n  partitions: 6\n  tls: true\n")
	jsonFile := write("c.json", `{"scheme":"kafka","hosts":["b1:9092","b2:9092"],"username":"svc","password":"pw","group":"payments","options":{"partitions":6,"tls":true}}`)
	for _, f := range []string{yamlFile, jsonFile} {
		got, err := LoadFile(f)
		if err != nil {
			t.Fatalf("LoadFile(%s): %v", filepath.Base(f), err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("LoadFile(%s) = %#v; want %#v", filepath.Base(f), got, want)
		}
	}
	for _, tc := range []struct {
		name, body string
		want       []string
	}{
		{"unknown.yaml", "scheme: mem\ngroop: x\n", []string{`key "file"`, "groop"}},
		{"unknown.json", `{"scheme":"mem","groop":"x"}`, []string{`key "file"`, "groop"}},
		{"noscheme.yaml", "group: x\n", []string{`key "scheme"`, "is missing"}},
		{"badhost.yaml", "scheme: kafka\nhosts: ['h:0']\n", []string{`key "hosts"`, "invalid port"}},
		{"nested.yaml", "scheme: kafka\noptions:\n  tls: {a: 1}\n", []string{`key "options.tls"`, "a string, number or boolean"}},
		{"c.toml", "scheme = 'mem'", []string{`key "file"`, `unsupported extension ".toml"`, ".yaml, .yml, .json"}},
	} {
		_, err := LoadFile(write(tc.name, tc.body))
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("LoadFile(%s) = %v; want it to mention %q", tc.name, err, w)
			}
		}
	}
	if _, err := LoadFile(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "cannot be read") {
		t.Errorf("missing file: %v", err)
	}
}

func TestFromEnv(t *testing.T) {
	cfg, ok, err := fromEnv([]string{
		"HERALD_URL=kafka://b1:9092?tls=true",
		"HERALD_GROUP=payments",
		"HERALD_PASSWORD=pw",
		"HERALD_USERNAME=svc",
		"HERALD_OPTION_PARTITIONS=6",
		"HERALD_TEST_KAFKA=ignored",
		"HERALD_REQUIRE_BROKERS=1",
		"PATH=/bin",
	})
	want := Config{Scheme: "kafka", Hosts: []string{"b1:9092"}, Username: "svc", Password: "pw", Group: "payments",
		Options: map[string]string{"tls": "true", "partitions": "6"}}
	if err != nil || !ok || !reflect.DeepEqual(cfg, want) {
		t.Errorf("fromEnv = %#v, %v, %v; want %#v", cfg, ok, err, want)
	}
	if _, ok, err := fromEnv([]string{"HERALD_TEST_NATS=x"}); ok || err != nil {
		t.Errorf("no configuration: ok=%v err=%v; want false, nil", ok, err)
	}
	// Unknown variables only warn: see TestFromEnvUnknownVariablesWarn.
	_, _, err = fromEnv([]string{"HERALD_URL=nope"})
	if err == nil || !strings.Contains(err.Error(), "HERALD_URL") {
		t.Errorf("bad HERALD_URL: %v", err)
	}
	_, _, err = fromEnv([]string{"HERALD_GROUP=x"})
	if err == nil || !strings.Contains(err.Error(), `key "scheme"`) {
		t.Errorf("fields without a scheme: %v", err)
	}
}

func TestResolveDefault(t *testing.T) {
	logs := captureLog(t)
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "HERALD_") {
			t.Setenv(k, "") // restored after the test
			os.Unsetenv(k)
		}
	}
	cfg, err := Resolve("")
	if err != nil || cfg.Scheme != "embedded" {
		t.Errorf("Resolve(\"\") = %v, %v; want the embedded default", cfg, err)
	}
	if l := logs.lines(); len(l) != 1 || !strings.Contains(l[0], "level=WARN") {
		t.Errorf("the fallback logged %q; want one warning", l)
	}
	if _, err := Resolve("", RequireTarget()); err == nil {
		t.Errorf("Resolve(\"\", RequireTarget()) = nil error; want a missing target")
	}
	t.Setenv("HERALD_URL", "mem://x")
	if cfg, err := Resolve(""); err != nil || cfg.Scheme != "mem" {
		t.Errorf("Resolve with HERALD_URL = %v, %v", cfg, err)
	}
	if cfg, err := Resolve("nats://h:4222"); err != nil || cfg.Scheme != "nats" {
		t.Errorf("explicit target = %v, %v", cfg, err)
	}
}
