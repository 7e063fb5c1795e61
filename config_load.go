package herald

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// fileConfig is the on-disk form: the fields of Config plus an optional
// base URL that the other fields override.
type fileConfig struct {
	URL      string         `json:"url" yaml:"url"`
	Scheme   string         `json:"scheme" yaml:"scheme"`
	Hosts    []string       `json:"hosts" yaml:"hosts"`
	Username string         `json:"username" yaml:"username"`
	Password string         `json:"password" yaml:"password"`
	Path     string         `json:"path" yaml:"path"`
	Group    string         `json:"group" yaml:"group"`
	Options  map[string]any `json:"options" yaml:"options"`
}

// LoadFile reads a Config from a YAML (.yaml, .yml) or JSON (.json) file.
// The file holds the Config fields (scheme, hosts, username, password,
// path, group, options) and optionally a base url that the fields
// override:
//
//	url: kafka://broker-1:9092,broker-2:9092
//	group: payments
//	options:
//	  partitions: 6
//
// Unknown fields are errors.
func LoadFile(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, &ConfigError{Key: "file", Value: path, Problem: "cannot be read", Allowed: "a readable YAML or JSON file", Err: err}
	}
	var fc fileConfig
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".json":
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		err = dec.Decode(&fc)
	case ".yaml", ".yml":
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		err = dec.Decode(&fc)
		if err != nil && err.Error() == "EOF" {
			err = nil // an empty file is an empty config
		}
	default:
		return Config{}, &ConfigError{Key: "file", Value: path, Problem: fmt.Sprintf("has an unsupported extension %q", ext), Allowed: ".yaml, .yml, .json"}
	}
	if err != nil {
		return Config{}, &ConfigError{Key: "file", Value: path, Problem: "is not valid", Allowed: "the fields url, scheme, hosts, username, password, path, group, options", Err: redactErr(err, fc.Password)}
	}
	return fc.toConfig()
}

func (fc fileConfig) toConfig() (Config, error) {
	var cfg Config
	if fc.URL != "" {
		c, err := ParseURL(fc.URL)
		if err != nil {
			return Config{}, err
		}
		cfg = c
	}
	if fc.Scheme != "" {
		if err := checkScheme(fc.Scheme); err != nil {
			return Config{}, err
		}
		cfg.Scheme = strings.ToLower(fc.Scheme)
	}
	if len(fc.Hosts) > 0 {
		for _, h := range fc.Hosts {
			if err := checkHost(h); err != nil {
				return Config{}, err
			}
		}
		cfg.Hosts = fc.Hosts
	}
	if fc.Username != "" {
		cfg.Username = fc.Username
	}
	if fc.Password != "" {
		cfg.Password = Secret(fc.Password)
	}
	if fc.Path != "" {
		cfg.Path = fc.Path
	}
	if fc.Group != "" {
		cfg.Group = fc.Group
	}
	for k, v := range fc.Options {
		if k == "group" {
			return Config{}, &ConfigError{Key: "options.group", Problem: "belongs at the top level", Allowed: "group: name"}
		}
		switch v.(type) {
		case string, bool, int, int64, uint64, float64:
		default:
			return Config{}, &ConfigError{Key: "options." + k, Problem: fmt.Sprintf("has a %T value", v), Allowed: "a string, number or boolean"}
		}
		if cfg.Options == nil {
			cfg.Options = map[string]string{}
		}
		cfg.Options[k] = fmt.Sprint(v)
	}
	if cfg.Scheme == "" {
		return Config{}, &ConfigError{Key: "scheme", Problem: "is missing", Allowed: "scheme: kafka|amqp|amqps|nats|mem|embedded, or url: scheme://..."}
	}
	return cfg, nil
}

// redactErr keeps a decoder error from quoting the password.
func redactErr(err error, secret string) error {
	if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return fmt.Errorf("%s", strings.ReplaceAll(err.Error(), secret, redacted))
}

// Environment variables read by FromEnv.
const (
	EnvConfig   = "HERALD_CONFIG"  // path to a YAML or JSON file
	EnvURL      = "HERALD_URL"     // a target URL
	EnvOptionPf = "HERALD_OPTION_" // HERALD_OPTION_PARTITIONS=6 sets option "partitions"
)

var envFields = []string{"HERALD_SCHEME", "HERALD_HOSTS", "HERALD_USERNAME", "HERALD_PASSWORD", "HERALD_PATH", "HERALD_GROUP"}

// FromEnv builds a Config from HERALD_* environment variables:
// HERALD_CONFIG (a file, see LoadFile) or HERALD_URL gives the base, then
// HERALD_SCHEME, HERALD_HOSTS (comma-separated), HERALD_USERNAME,
// HERALD_PASSWORD, HERALD_PATH, HERALD_GROUP and HERALD_OPTION_<KEY>
// override it. It returns ok=false when none is set. Other HERALD_*
// variables are errors, except HERALD_TEST_* and HERALD_REQUIRE_* (used by
// the test suites).
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
		case strings.HasPrefix(k, "HERALD_TEST_"), strings.HasPrefix(k, "HERALD_REQUIRE_"):
		default:
			return Config{}, false, &ConfigError{Key: k, Problem: "is not a known environment variable", Allowed: strings.Join(append([]string{EnvConfig, EnvURL}, append(envFields, EnvOptionPf+"<KEY>")...), ", ")}
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

// DefaultTarget is used when the target is empty and no HERALD_*
// environment variable configures one: the embedded broker in its default
// data directory.
const DefaultTarget = "embedded://"

var defaultOnce sync.Once

// Resolve turns a target into a Config. A non-empty target is parsed with
// ParseURL. An empty target reads the environment (FromEnv); when that is
// empty too, DefaultTarget is used and this is logged once with
// slog.Default.
func Resolve(target string) (Config, error) {
	if target != "" {
		return ParseURL(target)
	}
	cfg, ok, err := FromEnv()
	if err != nil {
		return Config{}, err
	}
	if ok {
		return cfg, nil
	}
	defaultOnce.Do(func() {
		slog.Default().Info("herald: no target and no HERALD_URL; using the embedded broker", "target", DefaultTarget)
	})
	return ParseURL(DefaultTarget)
}
