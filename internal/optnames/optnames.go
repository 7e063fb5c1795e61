// Package optnames is the one vocabulary of Herald's URL options: the
// names that mean the same on every backend (client_id, connect_timeout,
// replicas, start, the tls_* options, ...) and the older names some
// backends read before, each accepted for one more release as an alias
// of the new name. The drivers read their options through Key and Enum;
// herald doctor and docs/configuration.md list the aliases of Aliases.
package optnames

import (
	"slices"
	"sort"
	"strings"

	"github.com/heraldkit/herald"
)

// Alias is an older name of an option, read on some schemes until the
// next release.
type Alias struct {
	// Old is the older name, New the name that replaces it.
	Old, New string
	// Schemes are where Old was read.
	Schemes []string
	// Values maps Old's values to New's when they differ (deliver=all is
	// start=oldest); nil when they are the same.
	Values map[string]string
}

// Aliases are every older option name still accepted. Each is accepted
// for one release after it was renamed (all were on main before the
// first tagged release); setting both the old and the new name is an
// error.
var Aliases = []Alias{
	{Old: "tls_skip_verify", New: "tls_insecure_skip_verify", Schemes: []string{"amqp", "amqps"}},
	{Old: "tls_insecure", New: "tls_insecure_skip_verify", Schemes: []string{"nats"}},
	{Old: "connection_name", New: "client_id", Schemes: []string{"amqp", "amqps"}},
	{Old: "name", New: "client_id", Schemes: []string{"nats"}},
	{Old: "dial_timeout", New: "connect_timeout", Schemes: []string{"amqp", "amqps"}},
	{Old: "replication_factor", New: "replicas", Schemes: []string{"kafka"}},
	{Old: "initial_offset", New: "start", Schemes: []string{"kafka"}},
	{Old: "deliver", New: "start", Schemes: []string{"nats", "embedded"}, Values: map[string]string{"all": "oldest", "new": "newest"}},
	// Read by adapters.SplitCommon (the facade's consume window), listed
	// here for doctor and the docs.
	{Old: "window", New: "prefetch", Schemes: []string{"kafka"}},
}

// lookup returns the alias old of name on scheme, or nil.
func lookup(scheme, old, name string) *Alias {
	for i := range Aliases {
		a := &Aliases[i]
		if a.Old == old && a.New == name && slices.Contains(a.Schemes, strings.ToLower(scheme)) {
			return a
		}
	}
	return nil
}

// oldNames returns the older names of name on scheme.
func oldNames(scheme, name string) []*Alias {
	var out []*Alias
	for i := range Aliases {
		a := &Aliases[i]
		if a.New == name && slices.Contains(a.Schemes, strings.ToLower(scheme)) {
			out = append(out, a)
		}
	}
	return out
}

// Key returns the key that sets the option name in cfg: name itself, or
// its older name on cfg's scheme when only that one is set. When both
// are set, a *herald.ConfigError is recorded in r and name is returned.
// An older name that is not set is not looked up, so it is not listed
// among the allowed keys of r's errors.
func Key(r *herald.OptionReader, cfg herald.Config, name string) string {
	_, hasNew := cfg.Options[name]
	key := name
	for _, a := range oldNames(cfg.Scheme, name) {
		v, ok := cfg.Options[a.Old]
		if !ok {
			continue
		}
		if hasNew || key != name {
			r.Fail(a.Old, v, "is the older name of "+name+", which is set too", name+" only")
			continue
		}
		key = a.Old
	}
	return key
}

// Enum reads the option name (or its older name, see Key) as
// herald.OptionReader.Enum does, translating an older name's values.
func Enum(r *herald.OptionReader, cfg herald.Config, name, def string, allowed ...string) string {
	key := Key(r, cfg, name)
	a := lookup(cfg.Scheme, key, name)
	if a == nil || a.Values == nil {
		return r.Enum(key, def, allowed...)
	}
	old := make([]string, 0, len(a.Values))
	for v := range a.Values {
		old = append(old, v)
	}
	sort.Strings(old)
	v := r.Enum(key, "", old...)
	if v == "" {
		return def
	}
	return a.Values[v]
}

// Used returns the aliases cfg sets, in the order of Aliases.
func Used(cfg herald.Config) []Alias {
	var out []Alias
	for _, a := range Aliases {
		if _, ok := cfg.Options[a.Old]; ok && slices.Contains(a.Schemes, strings.ToLower(cfg.Scheme)) {
			out = append(out, a)
		}
	}
	return out
}

// Describe says what an alias is, for doctor and errors: "tls_skip_verify
// is the older name of tls_insecure_skip_verify (accepted until the next
// release)".
func (a Alias) Describe() string {
	s := a.Old + " is the older name of " + a.New
	if a.Values != nil {
		var m []string
		for o, n := range a.Values {
			m = append(m, a.Old+"="+o+" is "+a.New+"="+n)
		}
		sort.Strings(m)
		s += " (" + strings.Join(m, ", ") + ")"
	}
	return s + "; accepted until the next release"
}
