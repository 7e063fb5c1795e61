package herald

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
)

// Environment variables read by FromEnv and Resolve.
const (
	EnvConfig   = "HERALD_CONFIG"  // path to a YAML or JSON file
	EnvURL      = "HERALD_URL"     // a target URL
	EnvOptionPf = "HERALD_OPTION_" // HERALD_OPTION_PARTITIONS=6 sets option "partitions"
	// EnvRequireURL=1 (or true, yes, on) makes Resolve fail when no target
	// is configured, instead of falling back to the embedded broker. Set it
	// in production, where a forgotten HERALD_URL must not go unnoticed.
	EnvRequireURL = "HERALD_REQUIRE_URL"
)

var envFields = []string{"HERALD_SCHEME", "HERALD_HOSTS", "HERALD_USERNAME", "HERALD_PASSWORD", "HERALD_PATH", "HERALD_GROUP"}

// knownEnv lists the variables Herald reads, for the warning about
// unknown ones.
var knownEnv = append(append([]string{EnvConfig, EnvURL}, envFields...), EnvOptionPf+"<KEY>", EnvRequireURL)

// toolingEnv are HERALD_* variables of Herald's own test suites and
// scripts: ignored without a warning, like every HERALD_TEST_* variable.
var toolingEnv = map[string]bool{"HERALD_REQUIRE_BROKERS": true, "HERALD_SKIP_BROKERS": true, "HERALD_CACHE": true, "HERALD_STATE": true}

// FromEnv builds a Config from HERALD_* environment variables:
// HERALD_CONFIG (a file, see LoadFile) or HERALD_URL gives the base, then
// HERALD_SCHEME, HERALD_HOSTS (comma-separated), HERALD_USERNAME,
// HERALD_PASSWORD, HERALD_PATH, HERALD_GROUP and HERALD_OPTION_<KEY>
// override it. It returns ok=false when none is set. Other HERALD_*
// variables are ignored: each is named once in a warning logged with
// slog.Default (HERALD_TEST_* and the variables of Herald's test scripts
// are ignored silently). HERALD_REQUIRE_URL is read by Resolve.
func FromEnv() (cfg Config, ok bool, err error) {
	return fromEnv(os.Environ())
}

func fromEnv(environ []string) (Config, bool, error) {
	env := map[string]string{}
	var names []string
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, "HERALD_") {
			continue
		}
		env[k] = v
		names = append(names, k)
	}
	sort.Strings(names)
	fc := fileConfig{Options: map[string]any{}}
	var cfg Config
	found := false
	for _, k := range names {
		v := env[k]
		switch {
		case k == EnvConfig:
			if v == "" {
				continue
			}
			if env[EnvURL] != "" {
				return Config{}, false, &ConfigError{Key: EnvConfig, Problem: "is set together with " + EnvURL, Allowed: "one of " + EnvConfig + " or " + EnvURL}
			}
			c, err := LoadFile(v)
			if err != nil {
				return Config{}, false, err
			}
			cfg, found = c, true
		case k == EnvURL:
			if v == "" {
				continue
			}
			c, err := ParseURL(v)
			if err != nil {
				return Config{}, false, fmt.Errorf("%s: %w", EnvURL, err)
			}
			cfg, found = c, true
		case k == "HERALD_SCHEME":
			fc.Scheme = v
		case k == "HERALD_HOSTS":
			if v != "" {
				fc.Hosts = strings.Split(v, ",")
			}
		case k == "HERALD_USERNAME":
			fc.Username = v
		case k == "HERALD_PASSWORD":
			fc.Password = v
		case k == "HERALD_PATH":
			fc.Path = v
		case k == "HERALD_GROUP":
			fc.Group = v
		case strings.HasPrefix(k, EnvOptionPf):
			opt := strings.ToLower(strings.TrimPrefix(k, EnvOptionPf))
			if opt == "" {
				return Config{}, false, &ConfigError{Key: k, Problem: "names no option", Allowed: EnvOptionPf + "<KEY>, e.g. " + EnvOptionPf + "PARTITIONS"}
			}
			fc.Options[opt] = v
		case k == EnvRequireURL, strings.HasPrefix(k, "HERALD_TEST_"), toolingEnv[k]:
		default:
			warnUnknownEnv(k)
		}
	}
	overrides := fc.Scheme != "" || len(fc.Hosts) > 0 || fc.Username != "" || fc.Password != "" || fc.Path != "" || fc.Group != "" || len(fc.Options) > 0
	if !found && !overrides {
		return Config{}, false, nil
	}
	if found {
		fc.URL = cfg.URL()
	}
	out, err := fc.toConfig()
	if err != nil {
		return Config{}, false, err
	}
	return out, true, nil
}

// warnUnknownEnv names an unknown HERALD_* variable, once per process and
// name. The value is never logged: it may be a secret.
func warnUnknownEnv(name string) {
	args := []any{"variable", name, "known", strings.Join(knownEnv, ", ")}
	lower := make([]string, len(knownEnv))
	for i, k := range knownEnv {
		lower[i] = strings.ToLower(k)
	}
	if s := closest(name, lower); s != "" {
		args = append(args, "did_you_mean", strings.ToUpper(s))
	}
	warnOnce("env:"+name, "herald: ignoring an unknown HERALD_* environment variable", args...)
}

var warned sync.Map // key -> struct{}: warnings already logged

// warnOnce logs msg at Warn with slog.Default the first time key is seen.
func warnOnce(key, msg string, args ...any) {
	if _, seen := warned.LoadOrStore(key, struct{}{}); !seen {
		slog.Default().Warn(msg, args...)
	}
}

// resetWarnings forgets the warnings given, for tests.
func resetWarnings() { warned.Clear() }

// DefaultTarget is used when the target is empty and no HERALD_*
// environment variable configures one: the embedded broker in its default
// data directory. See Resolve.
const DefaultTarget = "embedded://"

// ResolveOption changes how Resolve treats a missing target.
type ResolveOption func(*resolveOptions)

type resolveOptions struct {
	requireTarget bool
}

// RequireTarget makes Resolve fail when neither the target nor the
// environment configures a backend, instead of falling back to the
// embedded broker, as HERALD_REQUIRE_URL=1 does.
func RequireTarget() ResolveOption {
	return func(o *resolveOptions) { o.requireTarget = true }
}

// Resolve turns a target into a Config. A non-empty target is parsed with
// ParseURL. An empty target reads the environment (FromEnv). When that
// configures nothing either:
//
//   - with HERALD_REQUIRE_URL=1 or the RequireTarget option, Resolve
//     returns a *ConfigError that says how to set a target;
//   - otherwise it falls back to DefaultTarget, the embedded broker, which
//     stores messages durably in a data directory under the user's home
//     (see embedded.DefaultDir). This is logged once per process with
//     slog.Default at Warn, naming the directory: a production service
//     that forgot HERALD_URL must not quietly keep its messages on local
//     disk.
func Resolve(target string, opts ...ResolveOption) (Config, error) {
	return resolve(target, os.Environ(), opts...)
}

func resolve(target string, environ []string, opts ...ResolveOption) (Config, error) {
	if target != "" {
		return ParseURL(target)
	}
	var o resolveOptions
	for _, opt := range opts {
		opt(&o)
	}
	cfg, ok, err := fromEnv(environ)
	if err != nil {
		return Config{}, err
	}
	if ok {
		return cfg, nil
	}
	getenv := lookupIn(environ)
	require, err := parseEnvBool(EnvRequireURL, getenv(EnvRequireURL))
	if err != nil {
		return Config{}, err
	}
	const howTo = "a target URL, " + EnvURL + "=scheme://host:port (e.g. kafka://broker:9092) or " + EnvConfig + "=/path/to/herald.yaml"
	switch {
	case require:
		return Config{}, &ConfigError{Key: "target", Problem: "is missing: no target was given and neither " + EnvURL + " nor " + EnvConfig + " is set; " + EnvRequireURL + " forbids falling back to the embedded broker", Allowed: howTo}
	case o.requireTarget:
		return Config{}, &ConfigError{Key: "target", Problem: "is missing: no target was given and neither " + EnvURL + " nor " + EnvConfig + " is set; RequireTarget forbids falling back to the embedded broker", Allowed: howTo}
	}
	dir, err := embeddedDefaultDir(getenv)
	if err != nil {
		dir = "none (" + err.Error() + ")"
	}
	warnOnce("fallback", "herald: no target and no "+EnvURL+" or "+EnvConfig+"; falling back to the embedded broker, which stores messages durably on this machine's disk",
		"target", DefaultTarget, "dir", dir,
		"hint", "set "+EnvURL+"=scheme://host:port (e.g. kafka://broker:9092) to use your broker; set "+EnvRequireURL+"=1 to make a missing target an error")
	return ParseURL(DefaultTarget)
}

// lookupIn returns a getenv over environ (the last value wins, as in the
// os package).
func lookupIn(environ []string) func(string) string {
	return func(key string) string {
		v := ""
		for _, kv := range environ {
			if k, val, _ := strings.Cut(kv, "="); k == key {
				v = val
			}
		}
		return v
	}
}

// parseEnvBool reads a boolean environment variable; unset or empty is
// false.
func parseEnvBool(name, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "", "0", "f", "false", "no", "off":
		return false, nil
	case "1", "t", "true", "yes", "on":
		return true, nil
	}
	return false, &ConfigError{Key: name, Value: v, Problem: "is not a boolean", Allowed: "1, true, yes, on (or 0, false, no, off)"}
}

// embeddedDefaultDir is the directory embedded:// writes to, as computed
// by embedded.DefaultDir (which this package cannot import; a test keeps
// the two in step).
func embeddedDefaultDir(getenv func(string) string) (string, error) {
	if x := getenv("XDG_DATA_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "herald", "embedded"), nil
	}
	var (
		d   string
		err error
	)
	switch runtime.GOOS {
	case "windows":
		d, err = os.UserCacheDir() // %LocalAppData%
	case "darwin", "ios":
		d, err = os.UserConfigDir() // ~/Library/Application Support
	default:
		d, err = os.UserHomeDir()
		if err == nil && d == "" {
			err = fmt.Errorf("no home directory")
		}
		d = filepath.Join(d, ".local", "share")
	}
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "herald", "embedded"), nil
}
