package adapters

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
)

// Adapter opens Watermill publishers and subscribers for one scheme.
// Implementations validate cfg (unknown options and bad values are
// *herald.ConfigError) and must not retain ctx beyond the call.
type Adapter interface {
	// Publisher opens the publish side for cfg.
	Publisher(ctx context.Context, cfg herald.Config) (message.Publisher, error)
	// Subscriber opens the consume side for cfg; cfg.Group is the
	// consumer group ("" for a private consumer).
	Subscriber(ctx context.Context, cfg herald.Config) (message.Subscriber, error)
}

// Validator is implemented by adapters that can check a Config without
// connecting. Open calls it first so configuration mistakes are reported
// before any network activity.
type Validator interface {
	Validate(cfg herald.Config) error
}

var (
	mu       sync.RWMutex
	registry = map[string]Adapter{}
)

// Register makes an adapter available for scheme. It is meant to be called
// from an adapter package's init function; registering a scheme twice or a
// nil adapter panics, as with database/sql.Register.
func Register(scheme string, a Adapter) {
	mu.Lock()
	defer mu.Unlock()
	scheme = strings.ToLower(scheme)
	if a == nil {
		panic("herald/adapters: Register adapter is nil for scheme " + scheme)
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

// Lookup returns the adapter registered for scheme. The error wraps
// herald.ErrUnknownScheme, lists the registered schemes and names the
// import that registers scheme.
func Lookup(scheme string) (Adapter, error) {
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

// Resolve turns a target into a Config (see herald.Resolve) and finds its
// adapter, validating the Config when the adapter is a Validator.
func Resolve(target string) (herald.Config, Adapter, error) {
	cfg, err := herald.Resolve(target)
	if err != nil {
		return herald.Config{}, nil, err
	}
	a, err := lookupValid(cfg)
	return cfg, a, err
}

func lookupValid(cfg herald.Config) (Adapter, error) {
	a, err := Lookup(cfg.Scheme)
	if err != nil {
		return nil, err
	}
	if v, ok := a.(Validator); ok {
		if err := v.Validate(cfg); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// OpenPublisher returns the Watermill publisher for target.
func OpenPublisher(ctx context.Context, target string) (message.Publisher, error) {
	cfg, err := herald.Resolve(target)
	if err != nil {
		return nil, err
	}
	return OpenPublisherConfig(ctx, cfg)
}

// OpenSubscriber returns the Watermill subscriber for target; the group,
// if any, travels in the target (?group=payments).
func OpenSubscriber(ctx context.Context, target string) (message.Subscriber, error) {
	cfg, err := herald.Resolve(target)
	if err != nil {
		return nil, err
	}
	return OpenSubscriberConfig(ctx, cfg)
}

// Open returns both the Watermill publisher and subscriber for target.
func Open(ctx context.Context, target string) (message.Publisher, message.Subscriber, error) {
	cfg, err := herald.Resolve(target)
	if err != nil {
		return nil, nil, err
	}
	pub, err := OpenPublisherConfig(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	sub, err := OpenSubscriberConfig(ctx, cfg)
	if err != nil {
		_ = pub.Close()
		return nil, nil, err
	}
	return pub, sub, nil
}

// OpenPublisherConfig is OpenPublisher for a Config.
func OpenPublisherConfig(ctx context.Context, cfg herald.Config) (message.Publisher, error) {
	a, err := lookupValid(cfg)
	if err != nil {
		return nil, err
	}
	return a.Publisher(ctx, cfg.Clone())
}

// OpenSubscriberConfig is OpenSubscriber for a Config.
func OpenSubscriberConfig(ctx context.Context, cfg herald.Config) (message.Subscriber, error) {
	a, err := lookupValid(cfg)
	if err != nil {
		return nil, err
	}
	return a.Subscriber(ctx, cfg.Clone())
}
