package herald

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

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
