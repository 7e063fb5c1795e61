package herald

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// captureLog sends slog.Default to a buffer for the test and forgets
// which warnings were already given, so that each test sees its own.
func captureLog(t *testing.T) *syncBuffer {
	t.Helper()
	var buf syncBuffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	resetWarnings()
	t.Cleanup(func() {
		slog.SetDefault(old)
		resetWarnings()
	})
	return &buf
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, l := range strings.Split(s.b.String(), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// TestFromEnvUnknownVariablesWarn: an unrelated HERALD_* variable does
// not make configuration fail; it is named in one warning (never its
// value), with the known variables and, for a typo, the likely one.
func TestFromEnvUnknownVariablesWarn(t *testing.T) {
	logs := captureLog(t)
	environ := []string{
		"HERALD_URL=mem://bus",
		"HERALD_LOG_LEVEL=debug",
		"HERALD_GRUOP=s3cr3t-value",
		"HERALD_TEST_NATS=nats://x:4222",
		"HERALD_REQUIRE_BROKERS=1",
	}
	for range 3 {
		cfg, ok, err := fromEnv(environ)
		if err != nil || !ok || cfg.Scheme != "mem" || len(cfg.Hosts) != 1 || cfg.Hosts[0] != "bus" {
			t.Fatalf("fromEnv = %v, %v, %v; want mem://bus", cfg, ok, err)
		}
	}
	lines := logs.lines()
	if len(lines) != 2 {
		t.Fatalf("want one warning per unknown variable, once; got %d lines:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for i, name := range []string{"HERALD_GRUOP", "HERALD_LOG_LEVEL"} {
		l := lines[i]
		for _, want := range []string{"level=WARN", "variable=" + name, "HERALD_URL", "HERALD_CONFIG", "HERALD_GROUP", "HERALD_OPTION_<KEY>", EnvRequireURL} {
			if !strings.Contains(l, want) {
				t.Errorf("warning %q does not contain %q", l, want)
			}
		}
		if strings.Contains(l, "s3cr3t") || strings.Contains(l, "debug") {
			t.Errorf("warning %q shows a variable's value", l)
		}
	}
	if !strings.Contains(lines[0], `did_you_mean=HERALD_GROUP`) {
		t.Errorf("warning %q does not suggest HERALD_GROUP", lines[0])
	}
	// Only unknown variables: no configuration, no error.
	if _, ok, err := fromEnv([]string{"HERALD_LOG_LEVEL=debug"}); ok || err != nil {
		t.Errorf("fromEnv(HERALD_LOG_LEVEL only) = ok %v, %v; want false, nil", ok, err)
	}
}

// TestResolveEmbeddedFallbackWarns: with no target at all, Resolve falls
// back to the embedded broker with a warning that says where it writes
// and how to choose a broker or forbid the fallback.
func TestResolveEmbeddedFallbackWarns(t *testing.T) {
	logs := captureLog(t)
	for range 2 {
		cfg, err := resolve("", []string{"XDG_DATA_HOME=/srv/data", "HERALD_TEST_KAFKA=x"})
		if err != nil || cfg.Scheme != "embedded" {
			t.Fatalf("resolve = %v, %v; want the embedded default", cfg, err)
		}
	}
	lines := logs.lines()
	if len(lines) != 1 {
		t.Fatalf("want one warning; got %d lines:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for _, want := range []string{"level=WARN", "embedded", "dir=/srv/data/herald/embedded", "HERALD_URL=", EnvRequireURL + "=1"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("warning %q does not contain %q", lines[0], want)
		}
	}
	// A target, from the argument or the environment: no warning.
	logs = captureLog(t)
	if _, err := resolve("", []string{"HERALD_URL=mem://"}); err != nil {
		t.Fatal(err)
	}
	if _, err := resolve("mem://", nil); err != nil {
		t.Fatal(err)
	}
	if l := logs.lines(); len(l) != 0 {
		t.Errorf("a configured target logged: %q", l)
	}
}

// TestResolveRequireTarget: HERALD_REQUIRE_URL=1 or the RequireTarget
// option turn a missing target into an error that says how to set one.
func TestResolveRequireTarget(t *testing.T) {
	logs := captureLog(t)
	check := func(name string, err error) {
		t.Helper()
		var ce *ConfigError
		if !errors.As(err, &ce) || !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: error %v is not a *ConfigError", name, err)
			return
		}
		for _, want := range []string{"HERALD_URL", "HERALD_CONFIG", "embedded"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q does not mention %q", name, err, want)
			}
		}
	}
	for _, v := range []string{"1", "true", "yes", "on", "TRUE"} {
		_, err := resolve("", []string{EnvRequireURL + "=" + v})
		check(EnvRequireURL+"="+v, err)
	}
	_, err := resolve("", nil, RequireTarget())
	check("RequireTarget()", err)
	if l := logs.lines(); len(l) != 0 {
		t.Errorf("a refused fallback logged: %q", l)
	}
	// A target satisfies the requirement.
	for _, tc := range []struct {
		target  string
		environ []string
	}{
		{"mem://", []string{EnvRequireURL + "=1"}},
		{"", []string{EnvRequireURL + "=1", "HERALD_URL=mem://"}},
		{"", []string{"HERALD_URL=mem://"}},
		{"mem://", nil},
	} {
		if cfg, err := resolve(tc.target, tc.environ, RequireTarget()); err != nil || cfg.Scheme != "mem" {
			t.Errorf("resolve(%q, %q) = %v, %v; want mem", tc.target, tc.environ, cfg, err)
		}
	}
	// Off: the fallback stays.
	for _, v := range []string{"", "0", "false", "no", "off"} {
		if cfg, err := resolve("", []string{EnvRequireURL + "=" + v}); err != nil || cfg.Scheme != "embedded" {
			t.Errorf("%s=%q: resolve = %v, %v; want the embedded fallback", EnvRequireURL, v, cfg, err)
		}
	}
	// A value that is not a boolean is an error, not "off".
	_, err = resolve("", []string{EnvRequireURL + "=maybe"})
	if err == nil || !strings.Contains(err.Error(), EnvRequireURL) || !strings.Contains(err.Error(), "maybe") {
		t.Errorf("%s=maybe: %v; want an error naming the variable and value", EnvRequireURL, err)
	}
}
