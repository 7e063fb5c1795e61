package herald

import (
	"log/slog"
	"net/url"
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
//
// A Config never shows its secrets: the password and the values of secret
// options (IsSecretKey) come out as REDACTED from String, every fmt verb,
// log/slog, encoding/json, YAML and MarshalText. Encoding a Config is thus
// for display; URL is the one form that keeps the secrets, to hand a
// configuration on.
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
	// Options are backend-specific settings (URL query parameters). The
	// values of secret keys (see IsSecretKey) are redacted when Options
	// or Config are printed, logged or encoded; adapters read them as is.
	Options Options `json:"options,omitempty" yaml:"options,omitempty"`
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
	opts := map[string]string(c.Options)
	if redact {
		opts = c.Options.Redacted()
	}
	for k, v := range opts {
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
		opts := make(Options, len(c.Options))
		for k, v := range c.Options {
			opts[k] = v
		}
		c.Options = opts
	}
	return c
}

// optionKeys returns the option keys sorted.
func (c Config) optionKeys() []string { return c.Options.keys() }
