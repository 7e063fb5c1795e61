package herald

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseURL: the parser never panics, every error is a ConfigError
// that never quotes the password, and what parses round-trips through
// URL().
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"mem://", "mem://orders", "embedded:///var/lib/herald", "embedded://",
		"kafka://h1:9092,h2:9092?group=payments&tls=true&sasl=scram-sha-512",
		"amqp://guest:guest@localhost:5672/vhost?group=payments",
		"amqps://u:p%40ss@[::1]:5671/%2F?prefetch=256",
		"nats://localhost:4222?mode=jetstream&stream=ORDERS",
		"nats://tok@h:4222?mode=core", "kafka://h:0", "x://@", "x://a@b@c/d?e=f&&g",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cfg, err := ParseURL(s)
		if err != nil {
			if _, ok := err.(*ConfigError); !ok {
				t.Fatalf("ParseURL(%q) error %T is not a *ConfigError", s, err)
			}
			// The password is what follows user: up to the last '@'.
			// (Mirror the parser: the authority ends at the first '?', then '/'.)
			if _, rest, ok := strings.Cut(s, "://"); ok {
				rest, _, _ = strings.Cut(rest, "?")
				rest, _, _ = strings.Cut(rest, "/")
				if at := strings.LastIndexByte(rest, '@'); at >= 0 {
					elsewhere := strings.Replace(s, rest[:at], "", 1) // the password may also occur by chance elsewhere
					if _, pw, ok := strings.Cut(rest[:at], ":"); ok && len(pw) >= 6 && strings.Contains(err.Error(), pw) && !strings.Contains(elsewhere, pw) && !strings.Contains(fmt.Sprintf("%q", elsewhere), pw) {
						t.Fatalf("ParseURL(%q) error quotes the password: %v", s, err)
					}
				}
			}
			return
		}
		again, err := ParseURL(cfg.URL())
		if err != nil {
			t.Fatalf("ParseURL(%q) ok, but its URL() %q does not parse: %v", s, cfg.URL(), err)
		}
		if !reflect.DeepEqual(normalize(again), normalize(cfg)) {
			t.Fatalf("round trip of %q via %q:\n got %#v\nwant %#v", s, cfg.URL(), again, cfg)
		}
		// String() is URL() with every secret replaced by REDACTED.
		red := cfg.Clone()
		if red.Password != "" {
			red.Password = "REDACTED"
		}
		for k, v := range red.Options {
			if IsSecretKey(k) && v != "" {
				red.Options[k] = "REDACTED"
			}
		}
		if cfg.String() != red.URL() {
			t.Fatalf("String() = %q; want %q", cfg.String(), red.URL())
		}
	})
}

func normalize(c Config) Config {
	if len(c.Options) == 0 {
		c.Options = nil
	}
	return c
}
