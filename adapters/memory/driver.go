package memory

import (
	"context"
	"math"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

func init() { adapters.Register(Scheme, driver{}) }

// driver is the memory bus's adapters.Driver.
type driver struct{}

// Validate implements adapters.Driver.
func (driver) Validate(cfg herald.Config) error {
	_, err := parse(cfg)
	return err
}

// Capabilities implements adapters.Driver: groups, no durability beyond
// the process, redelivery by the facade (a nacked message stays with its
// subscriber), queue order, no attempt count, delayed delivery in the
// process (not durable).
func (driver) Capabilities(herald.Config) adapters.Capabilities {
	return adapters.Capabilities{
		Groups:        true,
		Redelivery:    adapters.RedeliverLocal,
		Order:         adapters.OrderQueue,
		DefaultWindow: 256,
		SingleProcess: true,
		Delay: adapters.DelayCapabilities{
			Max:       math.MaxInt64, // about 292 years
			Precision: delayPrecision,
			Ordered:   true,
		},
	}
}

// delayPrecision is how late the bus's timers may fire under load.
const delayPrecision = 50 * time.Millisecond

// OpenTopic implements adapters.Driver.
func (driver) OpenTopic(_ context.Context, cfg herald.Config, _ adapters.Env) (adapters.Topic, error) {
	s, err := parse(cfg)
	if err != nil {
		return nil, err
	}
	return &topic{bus: acquire(s), stop: make(chan struct{})}, nil
}

// OpenSubscription implements adapters.Driver.
func (driver) OpenSubscription(_ context.Context, cfg herald.Config, _ adapters.Env) (adapters.Subscription, error) {
	s, err := parse(cfg)
	if err != nil {
		return nil, err
	}
	return &subscription{bus: acquire(s), group: cfg.Group, streams: map[*stream]struct{}{}}, nil
}
