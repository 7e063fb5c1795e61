package kafka

import (
	"context"
	"log/slog"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

func init() { adapters.Register("kafka", Driver{}) }

// Driver is the kafka backend's adapters.Driver, registered for the
// "kafka" scheme: importing this package is enough to use it.
type Driver struct{}

var _ adapters.Driver = Driver{}

// Validate implements adapters.Driver: it checks cfg without connecting:
// every option, the broker addresses, credentials against sasl, and the
// TLS files (which it reads). Problems are *herald.ConfigError values,
// joined. The consume window (prefetch, or its older name window) is the
// facade's: split it off first with adapters.SplitCommon.
func (Driver) Validate(cfg herald.Config) error {
	_, err := parse(cfg)
	return err
}

// Capabilities implements adapters.Driver: durable groups; a nacked
// record is redelivered by the facade itself (Kafka commits offsets, it
// cannot redeliver one record), before later records of its key, and
// holds its partition's commit until it succeeds; the broker counts no
// attempts; per-key order (a key's partition); records up to
// max_message_bytes.
func (Driver) Capabilities(cfg herald.Config) adapters.Capabilities {
	s, err := parse(cfg)
	if err != nil {
		s.maxMessageBytes = defaultMaxMessageBytes
	}
	return adapters.Capabilities{
		Durable:        true,
		Groups:         true,
		Redelivery:     adapters.RedeliverLocal,
		NackDelay:      false,
		CountsAttempts: false,
		Order:          adapters.OrderKey,
		MaxMessageSize: s.maxMessageBytes,
		DefaultWindow:  defaultWindow,
		MaxWindow:      0, // no limit of its own
		Request:        adapters.RequestCaps{Path: adapters.RequestReplyTopic},
		Timestamps:     true,
		Properties:     adapters.PropertyCaps{Time: true},
	}
}

// OpenTopic implements adapters.Driver: it connects to the brokers and
// checks that one answers, within ctx.
func (Driver) OpenTopic(ctx context.Context, cfg herald.Config, env adapters.Env) (adapters.Topic, error) {
	s, err := parse(cfg)
	if err != nil {
		return nil, err
	}
	return newTopic(ctx, s, logger(env))
}

// OpenSubscription implements adapters.Driver: it connects to the brokers
// and checks that one answers, within ctx. Each stream it opens is a
// consumer of its own (a member of cfg.Group, or a private consumer).
func (Driver) OpenSubscription(ctx context.Context, cfg herald.Config, env adapters.Env) (adapters.Subscription, error) {
	s, err := parse(cfg)
	if err != nil {
		return nil, err
	}
	return newSubscription(ctx, s, logger(env))
}

func logger(env adapters.Env) *slog.Logger {
	if env.Logger != nil {
		return env.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// OpenRequester implements adapters.Driver: a reply topic of its own
// (created now, deleted at Close), its consumer, and a producer (see
// requester).
func (Driver) OpenRequester(ctx context.Context, cfg herald.Config, env adapters.Env) (adapters.Requester, error) {
	s, err := parse(cfg)
	if err != nil {
		return nil, err
	}
	return newRequester(ctx, s, logger(env))
}
