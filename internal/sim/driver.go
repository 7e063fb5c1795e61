package sim

import (
	"context"
	"errors"
	"sort"
	"sync"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// Scheme is the scheme a test registers the Driver under.
const Scheme = "sim"

// Driver is the adapters.Driver of simulated brokers: a configuration
// sim://<name> opens the broker Add returned it for. One Driver is
// registered once per process; each run adds its own Broker.
type Driver struct {
	mu      sync.Mutex
	brokers map[string]*Broker
}

var _ adapters.Driver = (*Driver)(nil)

// NewDriver returns a Driver with no brokers.
func NewDriver() *Driver { return &Driver{brokers: map[string]*Broker{}} }

// Add makes b reachable and returns its configuration.
func (d *Driver) Add(b *Broker) herald.Config {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.brokers[b.name] = b
	return herald.Config{Scheme: Scheme, Hosts: []string{b.name}}
}

// Remove makes b unreachable.
func (d *Driver) Remove(b *Broker) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.brokers, b.name)
}

func (d *Driver) broker(cfg herald.Config) *Broker {
	if len(cfg.Hosts) != 1 {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.brokers[cfg.Hosts[0]]
}

// Validate implements adapters.Driver: the one host names a broker that
// was added, and no option is set (prefetch is the facade's).
func (d *Driver) Validate(cfg herald.Config) error {
	cfg, _, err := adapters.SplitCommon(cfg)
	if err != nil {
		return err
	}
	if len(cfg.Options) > 0 {
		keys := make([]string, 0, len(cfg.Options))
		for k := range cfg.Options {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return &herald.ConfigError{Key: keys[0], Value: cfg.Options[keys[0]], Problem: "is not an option of the simulated driver", Allowed: "prefetch only"}
	}
	if len(cfg.Hosts) != 1 {
		return &herald.ConfigError{Key: "host", Problem: "must name one simulated broker", Allowed: "sim://<name of a Broker added to the Driver>"}
	}
	if d.broker(cfg) == nil {
		return &herald.ConfigError{Key: "host", Value: cfg.Hosts[0], Problem: "names no simulated broker", Allowed: "the name of a Broker added to the Driver"}
	}
	return nil
}

// Capabilities implements adapters.Driver: the plan's.
func (d *Driver) Capabilities(cfg herald.Config) adapters.Capabilities {
	if b := d.broker(cfg); b != nil {
		return b.plan.Caps
	}
	return adapters.Capabilities{}
}

// OpenTopic implements adapters.Driver.
func (d *Driver) OpenTopic(ctx context.Context, cfg herald.Config, env adapters.Env) (adapters.Topic, error) {
	b, err := d.open(ctx, cfg, env, "open topic")
	if err != nil {
		return nil, err
	}
	return b.openConn(), nil
}

// OpenSubscription implements adapters.Driver.
func (d *Driver) OpenSubscription(ctx context.Context, cfg herald.Config, env adapters.Env) (adapters.Subscription, error) {
	b, err := d.open(ctx, cfg, env, "open subscription")
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.nextSub++
	return &subscription{b: b, id: b.nextSub, group: cfg.Group, streams: map[*stream]struct{}{}}, nil
}

func (d *Driver) open(ctx context.Context, cfg herald.Config, env adapters.Env, op string) (*Broker, error) {
	b := d.broker(cfg)
	if b == nil {
		return nil, &herald.Error{Backend: Scheme, Op: op, Kind: herald.KindInvalid, Err: errors.New("no such simulated broker")}
	}
	if env.Logger == nil {
		b.violation("%s: Env.Logger is nil", op)
	}
	if err := ctx.Err(); err != nil {
		return nil, &herald.Error{Backend: Scheme, Op: op, Kind: herald.KindUnreachable, Err: err}
	}
	return b, nil
}

// opError is the driver's error for op on topic.
func opError(op, topic string, k herald.Kind, cause error) error {
	return &herald.Error{Backend: Scheme, Op: op, Topic: topic, Kind: k, Err: cause}
}

// OpenRequester implements adapters.Driver: the simulated broker has no
// request/reply (its plan declares none), so it is refused.
func (d *Driver) OpenRequester(context.Context, herald.Config, adapters.Env) (adapters.Requester, error) {
	return nil, &herald.Error{Backend: Scheme, Op: "open requester", Kind: herald.KindInvalid, Err: errors.New("the simulated broker has no request/reply")}
}
