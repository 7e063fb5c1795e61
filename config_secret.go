package herald

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"strings"
	"sync"
)

// Secret is a string that never prints: String, GoString, every fmt verb,
// slog, JSON, YAML and MarshalText all show "REDACTED" (or "" when
// empty). Use Value to read it. Decoding (JSON, YAML) reads the real value.
//
// fmt cannot call methods on values it reaches through unexported struct
// fields: keep a Config in an exported field, or log it with String.
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

// secretWords are the parts of an option key that mark it secret:
// password, passwd, passphrase (pass), token, secret, client_secret,
// seed, nkey, nkey_seed, creds, credentials, jwt, api_key, apikey,
// private_key.
var secretWords = []string{"pass", "token", "secret", "seed", "nkey", "cred", "jwt", "apikey", "api_key", "private"}

var secretKeys sync.Map // string (lower case) -> struct{}; see RegisterSecretOption

// IsSecretKey reports whether an option key names a secret. Its value is
// then redacted like Config.Password wherever Options or Config are
// printed, logged or encoded, and left out of configuration errors.
//
// The rule is by name, so that it holds in every program, whether or not
// it imports the adapter that reads the key: a key is secret when it
// contains (ignoring case) pass, token, secret, seed, nkey, cred, jwt,
// apikey, api_key or private, or was registered with
// RegisterSecretOption. Herald's adapters read three secret keys: token,
// nkey and creds (NATS); passwords belong in the URL's userinfo.
// Options that name a file (tls_key, tls_cert, tls_ca) hold a path, which
// is not secret.
func IsSecretKey(key string) bool {
	k := strings.ToLower(key)
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	_, ok := secretKeys.Load(k)
	return ok
}

// RegisterSecretOption marks key as secret for IsSecretKey, for an adapter
// whose secret option the naming rule misses. Call it from the adapter
// package's init function, next to adapters.Register.
func RegisterSecretOption(key string) {
	secretKeys.Store(strings.ToLower(key), struct{}{})
}

// Options are a Config's backend-specific settings: the URL's query
// parameters but group. Indexing gives the real values, for adapters
// (which read them with Config.OptionReader). Every way of printing or
// encoding Options redacts the values of secret keys (IsSecretKey):
// String and every fmt verb, LogValue (slog), MarshalJSON, MarshalYAML
// and MarshalText (the query form, a=1&token=REDACTED). Decoding reads the
// values as they are; encoded Options are for display, not for a round
// trip (use Config.URL for that).
type Options map[string]string

// Redacted returns a copy of o in which the values of secret keys are
// "REDACTED" (empty values stay empty). It is nil when o is nil.
func (o Options) Redacted() map[string]string {
	if o == nil {
		return nil
	}
	m := make(map[string]string, len(o))
	for k, v := range o {
		if v != "" && IsSecretKey(k) {
			v = redacted
		}
		m[k] = v
	}
	return m
}

// keys returns the keys sorted.
func (o Options) keys() []string {
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// String formats o like fmt formats a map, secrets redacted:
// map[mode:core token:REDACTED].
func (o Options) String() string { return fmt.Sprint(o.Redacted()) }

// Format redacts for every fmt verb: it formats the redacted copy as fmt
// would format the map.
func (o Options) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, fmt.FormatString(f, verb), o.Redacted())
}

// LogValue redacts in log/slog: a group with one attribute per key, in
// key order.
func (o Options) LogValue() slog.Value {
	r := o.Redacted()
	attrs := make([]slog.Attr, 0, len(r))
	for _, k := range o.keys() {
		attrs = append(attrs, slog.String(k, r[k]))
	}
	return slog.GroupValue(attrs...)
}

// MarshalJSON encodes the redacted copy as a JSON object.
func (o Options) MarshalJSON() ([]byte, error) { return json.Marshal(o.Redacted()) }

// MarshalYAML encodes the redacted copy as a YAML mapping (go.yaml.in/yaml
// and gopkg.in/yaml call it).
func (o Options) MarshalYAML() (any, error) { return o.Redacted(), nil }

// MarshalText encodes the redacted copy in the URL query form, keys
// sorted: mode=core&token=REDACTED.
func (o Options) MarshalText() ([]byte, error) {
	q := url.Values{}
	for k, v := range o.Redacted() {
		q.Set(k, v)
	}
	return []byte(q.Encode()), nil
}
