package herald

import (
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"strings"
)

// Config selects and configures a backend. The URL form (see ParseURL) and
// the struct form mean the same thing: ParseURL(cfg.URL()) == cfg.
//
//	kafka://user:pass@h1:9092,h2:9092?group=payments&tls=true
//	amqp://guest:guest@localhost:5672/vhost?group=payments
//	nats://localhost:4222?mode=jetstream
//	mem://name
//	embedded:///var/lib/app/herald
//
// Settings that only one backend understands go in Options; the adapter
// validates them and rejects unknown keys.
type Config struct {
	// Scheme picks the backend: kafka, amqp, amqps, nats, mem, embedded.
	Scheme string `json:"scheme" yaml:"scheme"`
	// Hosts are host:port addresses (the bus name for mem).
	Hosts []string `json:"hosts,omitempty" yaml:"hosts,omitempty"`
	// Username and Password authenticate; Password is redacted everywhere.
	Username string `json:"username,omitempty" yaml:"username,omitempty"`
	Password Secret `json:"password,omitempty" yaml:"password,omitempty"`
	// Path is the URL path: the RabbitMQ vhost, the embedded data directory.
	Path string `json:"path,omitempty" yaml:"path,omitempty"`
	// Group is the consumer group: subscribers in one group share a topic's
	// messages; different groups each get every message.
	Group string `json:"group,omitempty" yaml:"group,omitempty"`
	// Options are backend-specific settings (URL query parameters).
	Options map[string]string `json:"options,omitempty" yaml:"options,omitempty"`
}

// Secret is a string that never prints: String, GoString, fmt verbs, slog
// and JSON all show "REDACTED" (or "" when empty). Use Value to read it.
type Secret string

const redacted = "REDACTED"

// Value returns the secret itself.
func (s Secret) Value() string { return string(s) }

// String returns "REDACTED", or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString redacts for %#v.
func (s Secret) GoString() string { return fmt.Sprintf("%q", s.String()) }

// Format redacts for every fmt verb.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", s.String())
		return
	}
	fmt.Fprint(f, s.String())
}

// LogValue redacts in log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText redacts when encoding (JSON, YAML, ...). Decoding reads the
// real value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// IsSecretKey reports whether an option key names a secret (password,
// token, seed, credentials): its value is redacted like Password.
func IsSecretKey(key string) bool {
	k := strings.ToLower(key)
	for _, w := range []string{"pass", "token", "secret", "seed", "nkey", "creds", "credential"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// String returns the configuration as a URL with the password and secret
// options redacted. It is safe to log.
func (c Config) String() string { return c.url(true) }

// GoString redacts for %#v.
func (c Config) GoString() string { return "herald.Config(" + c.String() + ")" }

// LogValue redacts in log/slog.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// URL returns the configuration as a URL that ParseURL turns back into c,
// password included. Do not log it; use String.
func (c Config) URL() string { return c.url(false) }

func (c Config) url(redact bool) string {
	var b strings.Builder
	b.WriteString(c.Scheme)
	b.WriteString("://")
	if c.Username != "" || c.Password != "" {
		b.WriteString(escape(c.Username))
		if c.Password != "" {
			b.WriteByte(':')
			if redact {
				b.WriteString(redacted)
			} else {
				b.WriteString(escape(c.Password.Value()))
			}
		}
		b.WriteByte('@')
	}
	b.WriteString(strings.Join(c.Hosts, ","))
	if c.Path != "" {
		if !strings.HasPrefix(c.Path, "/") {
			b.WriteByte('/')
		}
		b.WriteString(escapePath(c.Path))
	}
	q := url.Values{}
	if c.Group != "" {
		q.Set("group", c.Group)
	}
	for k, v := range c.Options {
		if redact && IsSecretKey(k) && v != "" {
			v = redacted
		}
		q.Set(k, v)
	}
	if len(q) > 0 {
		b.WriteByte('?')
		b.WriteString(q.Encode())
	}
	return b.String()
}

// escapePath escapes each path segment, keeping the slashes.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = escape(s)
	}
	return strings.Join(segs, "/")
}

// escape percent-encodes every byte but the unreserved characters of RFC
// 3986, so that the result is safe in userinfo and path segments alike.
func escape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// Clone returns a deep copy of c.
func (c Config) Clone() Config {
	c.Hosts = append([]string(nil), c.Hosts...)
	if c.Options != nil {
		opts := make(map[string]string, len(c.Options))
		for k, v := range c.Options {
			opts[k] = v
		}
		c.Options = opts
	}
	return c
}

// optionKeys returns the option keys sorted.
func (c Config) optionKeys() []string {
	keys := make([]string, 0, len(c.Options))
	for k := range c.Options {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
