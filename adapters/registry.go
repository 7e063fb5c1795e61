package adapters

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/heraldkit/herald"
)

var (
	mu       sync.RWMutex
	registry = map[string]Driver{}
)

// Register makes a driver available for scheme. It is meant to be called
// from a driver package's init function; registering a scheme twice or a
// nil driver panics, as with database/sql.Register.
func Register(scheme string, a Driver) {
	mu.Lock()
	defer mu.Unlock()
	scheme = strings.ToLower(scheme)
	if a == nil {
		panic("herald/adapters: Register driver is nil for scheme " + scheme)
	}
	if _, dup := registry[scheme]; dup {
		panic("herald/adapters: Register called twice for scheme " + scheme)
	}
	registry[scheme] = a
}

// Schemes returns the registered schemes, sorted.
func Schemes() []string {
	mu.RLock()
	defer mu.RUnlock()
	s := make([]string, 0, len(registry))
	for k := range registry {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

// Lookup returns the driver registered for scheme. The error wraps
// herald.ErrUnknownScheme, lists the registered schemes and names the
// import that registers scheme.
func Lookup(scheme string) (Driver, error) {
	mu.RLock()
	a, ok := registry[strings.ToLower(scheme)]
	mu.RUnlock()
	if ok {
		return a, nil
	}
	hint := "import the adapter package that registers it"
	if pkg, known := builtin[strings.ToLower(scheme)]; known {
		hint = fmt.Sprintf("add: import _ %q (or _ \"github.com/heraldkit/herald/adapters/all\")", "github.com/heraldkit/herald/adapters/"+pkg)
	}
	registered := strings.Join(Schemes(), ", ")
	if registered == "" {
		registered = "none"
	}
	return nil, fmt.Errorf("%w %q: registered schemes: %s; %s", herald.ErrUnknownScheme, scheme, registered, hint)
}

// builtin maps the schemes of Herald's own adapters to their packages, for
// the hint in Lookup's error.
var builtin = map[string]string{
	"kafka":    "kafka",
	"amqp":     "rabbitmq",
	"amqps":    "rabbitmq",
	"nats":     "nats",
	"mem":      "memory",
	"embedded": "embedded",
}

// For finds the driver of cfg's scheme and validates cfg with it (no
// I/O): the error is a *herald.ConfigError for a bad configuration, or
// wraps herald.ErrUnknownScheme.
func For(cfg herald.Config) (Driver, error) {
	d, err := Lookup(cfg.Scheme)
	if err != nil {
		return nil, err
	}
	if err := d.Validate(cfg); err != nil {
		return nil, err
	}
	return d, nil
}
