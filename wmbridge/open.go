package wmbridge

import (
	"context"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// backend is a driver with the configuration it was validated for, as
// the publisher and subscriber facades prepare it: the common options
// (prefetch) taken out and the rest validated by the driver.
type backend struct {
	driver adapters.Driver
	cfg    herald.Config
	common adapters.Common
	caps   adapters.Capabilities
}

// resolve finds the driver of target's scheme in the registry.
func resolve(target string) (adapters.Driver, herald.Config, error) {
	cfg, err := herald.ParseURL(target)
	if err != nil {
		return nil, cfg, err
	}
	d, err := adapters.Lookup(cfg.Scheme)
	return d, cfg, err
}

// prepare validates cfg for d without I/O.
func prepare(d adapters.Driver, cfg herald.Config) (backend, error) {
	if d == nil {
		return backend{}, &herald.ConfigError{Key: "driver", Problem: "is nil", Allowed: "an adapters.Driver, e.g. from adapters.Lookup"}
	}
	rest, common, err := adapters.SplitCommon(cfg)
	if err != nil {
		return backend{}, err
	}
	if err := d.Validate(rest); err != nil {
		return backend{}, err
	}
	return backend{driver: d, cfg: rest, common: common, caps: d.Capabilities(rest)}, nil
}

// OpenPublisher opens a Watermill publisher on the Herald backend of
// target (a URL such as "kafka://localhost:9092" or "mem://"; the
// backend's package must be imported so that its scheme is registered).
// ctx bounds the opening only.
func OpenPublisher(ctx context.Context, target string, opts ...Option) (*Publisher, error) {
	d, cfg, err := resolve(target)
	if err != nil {
		return nil, err
	}
	return NewPublisher(ctx, d, cfg, opts...)
}

// OpenSubscriber opens a Watermill subscriber on the Herald backend of
// target; the URL's group (?group=NAME) is the consumer group, and
// ?prefetch=N the consume window. ctx bounds the opening only.
func OpenSubscriber(ctx context.Context, target string, opts ...Option) (*Subscriber, error) {
	d, cfg, err := resolve(target)
	if err != nil {
		return nil, err
	}
	return NewSubscriber(ctx, d, cfg, opts...)
}
