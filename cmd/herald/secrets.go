package main

import (
	neturl "net/url"
	"regexp"
	"strings"

	"github.com/heraldkit/herald"
)

// secrets are values that must never be printed: passwords and secret
// options. Herald's own errors leave them out; secrets.scrub is the
// second line of defence for text that passed through clients and
// brokers.
type secrets []string

// add records a secret value, as is and as written in a URL.
func (s *secrets) add(v string) {
	if v == "" {
		return
	}
	*s = append(*s, v)
	if e := neturl.UserPassword("u", v).String()[len("u:"):]; e != v {
		*s = append(*s, e)
	}
	if e := neturl.QueryEscape(v); e != v {
		*s = append(*s, e)
	}
}

// addConfig records cfg's password and secret options.
func (s *secrets) addConfig(cfg herald.Config) {
	s.add(cfg.Password.Value())
	for k, v := range cfg.Options {
		if herald.IsSecretKey(k) {
			s.add(v)
		}
	}
}

// userinfoPassword finds the password of scheme://user:password@host.
var userinfoPassword = regexp.MustCompile(`://[^/@:]*:([^/@]+)@`)

// addURL records the secrets of a target URL, even one that does not
// parse.
func (s *secrets) addURL(raw string) {
	if raw == "" {
		return
	}
	if m := userinfoPassword.FindStringSubmatch(raw); m != nil {
		s.add(m[1])
		if u, err := neturl.PathUnescape(m[1]); err == nil {
			s.add(u)
		}
	}
	if cfg, err := herald.ParseURL(raw); err == nil {
		s.addConfig(cfg)
	}
}

// scrub replaces every secret in text with REDACTED.
func (s secrets) scrub(text string) string {
	for _, v := range s {
		text = strings.ReplaceAll(text, v, "REDACTED")
	}
	return text
}

// secretsOf collects the secrets a command line can carry: the -url
// flag's and the environment's (HERALD_URL, HERALD_PASSWORD,
// HERALD_CONFIG's file, ...).
func secretsOf(args []string) secrets {
	var s secrets
	for i, a := range args {
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "url" {
			continue
		}
		if !hasValue && i+1 < len(args) {
			value = args[i+1]
		}
		s.addURL(value)
	}
	if cfg, ok, err := herald.FromEnv(); err == nil && ok {
		s.addConfig(cfg)
	}
	return s
}
