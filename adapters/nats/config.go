package nats

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/internal/natsx"
	"github.com/heraldkit/herald/internal/optnames"
	"github.com/heraldkit/herald/internal/tlsopt"
)

// DefaultHost is used when the URL names no host.
const DefaultHost = "127.0.0.1:4222"

// settings is a validated Config: where to connect, how, and the mode.
type settings struct {
	servers []string
	opts    []nats.Option
	// connectTimeout bounds each dial (the handshake too, through nats.Timeout).
	connectTimeout time.Duration
	core           bool
	js             natsx.Settings
	// auth names the credentials and TLS files in connect errors.
	auth auth
}

// parse validates cfg without connecting; every problem is a
// *herald.ConfigError, none holds a secret.
func parse(cfg herald.Config) (*settings, error) {
	// prefetch (the consume window) is the subscriber's: taken out and
	// checked here, read by the facade.
	cfg, _, err := adapters.SplitCommon(cfg)
	if err != nil {
		return nil, err
	}
	r := cfg.OptionReader()
	s := &settings{}
	s.core = r.Enum("mode", "jetstream", "jetstream", "core") == "core"
	if p := strings.Trim(cfg.Path, "/"); p != "" {
		r.Fail("path", cfg.Path, "is not used by NATS", "no path: nats://host:4222?options")
	}

	// client_id means what it means on every backend; name is its older
	// name here.
	name := r.String(optnames.Key(r, cfg, "client_id"), "herald")
	connectTimeout := r.Duration("connect_timeout", 5*time.Second, 100*time.Millisecond, 5*time.Minute)
	reconnectWait := r.Duration("reconnect_wait", 2*time.Second, 10*time.Millisecond, 5*time.Minute)
	maxReconnects := r.Int("max_reconnects", -1, -1, 1_000_000)
	s.connectTimeout = connectTimeout
	s.opts = append(s.opts,
		nats.Name(name),
		nats.Timeout(connectTimeout),
		nats.ReconnectWait(reconnectWait),
		nats.MaxReconnects(maxReconnects),
		// A refused authorization while reconnecting (credentials revoked,
		// then restored) is retried like any other failure, not fatal.
		nats.IgnoreAuthErrorAbort(),
	)
	authOpts, a := readAuth(r, cfg)
	s.opts = append(s.opts, authOpts...)
	s.auth = a
	s.auth.tls = tlsopt.Read(r, cfg)
	useTLS := s.auth.tls.Enabled()
	if useTLS {
		s.opts = append(s.opts, nats.Secure(s.auth.tls.Config))
	}

	if s.core && strings.ContainsFunc(cfg.Group, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		r.Fail("group", cfg.Group, "contains whitespace or a control character, which a NATS queue group cannot hold", "a group name without blanks")
	}
	if s.core {
		for _, k := range natsx.SettingKeys {
			if v, ok := cfg.Options[k]; ok {
				r.Fail(k, v, "applies only to JetStream", "mode=jetstream, or remove "+k)
			}
			if old := optnames.Key(r, cfg, k); old != k {
				r.Fail(old, cfg.Options[old], "applies only to JetStream", "mode=jetstream, or remove "+old)
			}
		}
		natsx.RefuseRemoved(r, cfg.Options)
	} else {
		s.js = natsx.ReadSettings(r, cfg)
	}

	hosts := cfg.Hosts
	if len(hosts) == 0 {
		hosts = []string{DefaultHost}
	}
	scheme := "nats://"
	if useTLS {
		scheme = "tls://"
	}
	for _, h := range hosts {
		s.servers = append(s.servers, scheme+h)
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	return s, nil
}

// readAuth reads the credentials: user/password from the URL, or one of
// the token, nkey and creds options.
func readAuth(r *herald.OptionReader, cfg herald.Config) ([]nats.Option, auth) {
	var opts []nats.Option
	var used []string
	a := auth{user: cfg.Username}
	if cfg.Username != "" || cfg.Password != "" {
		used = append(used, "user:password")
		switch {
		case cfg.Username == "":
			r.Fail("username", "", "is missing while a password is set", "nats://user:password@host:4222")
		case cfg.Password == "":
			r.Fail("password", "", "is missing for user "+fmt.Sprintf("%q", cfg.Username), "nats://user:password@host:4222; for token authentication use the token option")
		default:
			opts = append(opts, nats.UserInfo(cfg.Username, cfg.Password.Value()))
		}
	}
	if tok := r.String("token", ""); r.Has("token") {
		used = append(used, "token")
		if tok == "" {
			r.Fail("token", "", "is empty", "a token, e.g. ?token=s3cr3t (percent-encoded)")
		}
		opts = append(opts, nats.Token(tok))
	}
	if path := r.String("nkey", ""); r.Has("nkey") {
		used = append(used, "nkey")
		a.file = path
		o, err := nats.NkeyOptionFromSeed(path)
		if err != nil {
			r.Fail("nkey", "", "cannot be read as an nkey seed file: "+noSecrets(err), "the path of a readable file holding an nkey seed (SU...)")
		} else {
			opts = append(opts, o)
		}
	}
	if path := r.String("creds", ""); r.Has("creds") {
		used = append(used, "creds")
		a.file = path
		if f, err := os.Open(path); err != nil {
			r.Fail("creds", "", "cannot be read: "+noSecrets(err), "the path of a readable .creds file (nsc generate creds)")
		} else {
			f.Close()
			opts = append(opts, nats.UserCredentials(path))
		}
	}
	if len(used) > 1 {
		slices.Sort(used)
		r.Fail("auth", strings.Join(used, ", "), "sets more than one authentication method", "one of user:password in the URL, token, nkey, creds")
	}
	if len(used) == 1 {
		a.method = used[0]
	}
	return opts, a
}

// noSecrets describes err for a ConfigError: the kind of failure, never
// file contents (os errors name the path, which is not secret).
func noSecrets(err error) string {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Op + ": " + pe.Err.Error()
	}
	return "invalid content"
}
