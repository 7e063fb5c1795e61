package herald

import (
	"net/url"
	"strconv"
	"strings"
)

// ParseURL parses a target URL into a Config:
//
//	scheme://[user[:password]@]host[:port][,host[:port]...][/path][?key=value&...]
//
// The query key "group" sets Config.Group; every other key goes to
// Config.Options for the adapter to validate. Userinfo, path and query
// values may be percent-encoded. Errors are *ConfigError values that name
// the part at fault and never contain the password.
func ParseURL(target string) (Config, error) {
	var cfg Config
	if target == "" {
		return cfg, &ConfigError{Key: "url", Problem: "is empty", Allowed: "scheme://[user:password@]host[:port][/path][?key=value]"}
	}
	for _, r := range target {
		if r < 0x20 || r == 0x7f {
			return cfg, &ConfigError{Key: "url", Problem: "contains a control character", Allowed: "printable characters; percent-encode others"}
		}
	}
	scheme, rest, ok := strings.Cut(target, "://")
	if !ok {
		return cfg, &ConfigError{Key: "url", Problem: `has no "://" after the scheme`, Allowed: "scheme://..., e.g. kafka://localhost:9092, mem://, embedded:///data/dir"}
	}
	if err := checkScheme(scheme); err != nil {
		return cfg, err
	}
	cfg.Scheme = strings.ToLower(scheme)

	rest, rawQuery, _ := strings.Cut(rest, "?")
	authority, path := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}
	if !strings.Contains(authority, "@") && (strings.Contains(path, "@") || strings.Contains(strings.SplitN(rawQuery, "=", 2)[0], "@")) {
		// Most likely user:pa/ss@host or user:pa?ss@host: never echo it.
		return cfg, &ConfigError{Key: "url", Problem: "has an '@' after the host; a username or password containing '/', '?' or '@' must be percent-encoded", Allowed: "scheme://user:percent-encoded-password@host:port/..."}
	}
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		userinfo := authority[:i]
		authority = authority[i+1:]
		rawUser, rawPass, hasPass := strings.Cut(userinfo, ":")
		user, err := url.PathUnescape(rawUser)
		if err != nil {
			return Config{}, &ConfigError{Key: "username", Problem: "has a bad percent-encoding", Allowed: "percent-encoded UTF-8"}
		}
		cfg.Username = user
		if hasPass {
			pass, err := url.PathUnescape(rawPass)
			if err != nil {
				return Config{}, &ConfigError{Key: "password", Problem: "has a bad percent-encoding", Allowed: "percent-encoded UTF-8"}
			}
			cfg.Password = Secret(pass)
		}
	}
	if authority != "" {
		for _, h := range strings.Split(authority, ",") {
			if err := checkHost(h); err != nil {
				return Config{}, err
			}
			cfg.Hosts = append(cfg.Hosts, h)
		}
	}
	if path != "" {
		p, err := url.PathUnescape(path)
		if err != nil {
			return Config{}, &ConfigError{Key: "path", Value: path, Problem: "has a bad percent-encoding", Allowed: "percent-encoded UTF-8"}
		}
		cfg.Path = p
	}
	if rawQuery != "" {
		if err := parseQuery(&cfg, rawQuery); err != nil {
			return Config{}, err
		}
	}
	return cfg, nil
}

func checkScheme(s string) error {
	allowed := "letters, digits, '+', '-', '.', starting with a letter, e.g. kafka, amqp, nats, mem, embedded"
	if s == "" {
		return &ConfigError{Key: "scheme", Problem: "is missing", Allowed: allowed}
	}
	for i, r := range s {
		letter := (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if letter || (i > 0 && ((r >= '0' && r <= '9') || r == '+' || r == '-' || r == '.')) {
			continue
		}
		return &ConfigError{Key: "scheme", Value: s, Problem: "is not a valid scheme", Allowed: allowed}
	}
	return nil
}

func checkHost(h string) error {
	const allowed = "host, host:port or [ipv6]:port with port 1-65535, comma-separated"
	if h == "" {
		return &ConfigError{Key: "hosts", Problem: "has an empty host", Allowed: allowed}
	}
	if strings.ContainsAny(h, " \t\"'<>\\^`{|}%") {
		return &ConfigError{Key: "hosts", Value: h, Problem: "contains a character not allowed in a host", Allowed: allowed}
	}
	host, port := h, ""
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return &ConfigError{Key: "hosts", Value: h, Problem: "has an unclosed '[' in an IPv6 address", Allowed: allowed}
		}
		host, port = h[1:end], strings.TrimPrefix(h[end+1:], ":")
		if h[end+1:] != "" && !strings.HasPrefix(h[end+1:], ":") {
			return &ConfigError{Key: "hosts", Value: h, Problem: "has text after the IPv6 address", Allowed: allowed}
		}
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 {
		host, port = h[:i], h[i+1:]
		if strings.Contains(host, ":") {
			return &ConfigError{Key: "hosts", Value: h, Problem: "has more than one ':' (IPv6 addresses need brackets)", Allowed: allowed}
		}
		if port == "" {
			return &ConfigError{Key: "hosts", Value: h, Problem: "has an empty port", Allowed: allowed}
		}
	}
	if host == "" {
		return &ConfigError{Key: "hosts", Value: h, Problem: "has an empty host name", Allowed: allowed}
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return &ConfigError{Key: "hosts", Value: h, Problem: "has an invalid port", Allowed: allowed}
		}
	}
	return nil
}

func parseQuery(cfg *Config, raw string) error {
	for _, pair := range strings.Split(raw, "&") {
		if pair == "" {
			continue
		}
		rawKey, rawVal, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			return &ConfigError{Key: "query", Problem: "has a key with a bad percent-encoding", Allowed: "key=value pairs, percent-encoded"}
		}
		val, err := url.QueryUnescape(rawVal)
		if err != nil {
			shown := ""
			if !IsSecretKey(key) {
				shown = rawVal
			}
			return &ConfigError{Key: key, Value: shown, Problem: "has a bad percent-encoding", Allowed: "percent-encoded UTF-8"}
		}
		if key == "" {
			return &ConfigError{Key: "query", Problem: "has an empty key", Allowed: "key=value pairs"}
		}
		if key == "group" {
			if cfg.Group != "" {
				return &ConfigError{Key: key, Problem: "is given more than once", Allowed: "one value per key"}
			}
			if val == "" {
				return &ConfigError{Key: key, Problem: "is empty", Allowed: "a non-empty group name, or omit the key"}
			}
			cfg.Group = val
			continue
		}
		if cfg.Options == nil {
			cfg.Options = map[string]string{}
		}
		if _, dup := cfg.Options[key]; dup {
			return &ConfigError{Key: key, Problem: "is given more than once", Allowed: "one value per key"}
		}
		cfg.Options[key] = val
	}
	return nil
}
