package rabbitmq

import (
	"context"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

func init() {
	adapters.Register("amqp", Driver{})
	adapters.Register("amqps", Driver{})
}

// Driver is the RabbitMQ driver, registered for the amqp and amqps
// schemes; users reach it through publisher.Open and subscriber.Open.
type Driver struct{}

var _ adapters.Driver = Driver{}

// Validate checks cfg without connecting: every option, the host, the
// vhost and the TLS files.
func (Driver) Validate(cfg herald.Config) error {
	_, err := parse(cfg)
	return err
}

// Capabilities is what RabbitMQ does for cfg (see "Capabilities" in the
// package documentation). Attempt and Delay depend on cfg: quorum queues
// count deliveries (x-delivery-count), classic queues only flag a
// redelivery; delayed delivery (the delay tiers) needs publisher
// confirms.
func (Driver) Capabilities(cfg herald.Config) adapters.Capabilities {
	quorum := false
	var delay adapters.DelayCapabilities
	if s, err := parse(cfg); err == nil {
		quorum = s.queueType == "quorum"
		delay = delayCapabilities(s)
	}
	return adapters.Capabilities{
		Durable:        true,
		Groups:         true,
		Redelivery:     adapters.RedeliverBroker,
		NackDelay:      false,
		CountsAttempts: quorum,
		Order:          adapters.OrderQueue,
		MaxMessageSize: 0, // the broker's max_message_size, not told to clients
		DefaultWindow:  defaultWindow,
		Delay:          delay,
		Request:        adapters.RequestCaps{Path: adapters.RequestDirectReplyTo, FailFast: true},
		Timestamps:     true,
		Properties:     adapters.PropertyCaps{Time: true, TTL: true, Type: true},
	}
}

// OpenTopic connects within ctx and returns the publish side.
func (Driver) OpenTopic(ctx context.Context, cfg herald.Config, env adapters.Env) (adapters.Topic, error) {
	s, err := parse(cfg)
	if err != nil {
		return nil, err
	}
	return openTopic(ctx, s, env)
}

// OpenSubscription connects within ctx and returns the consume side for
// cfg.Group (a private queue per topic when it is empty).
func (Driver) OpenSubscription(ctx context.Context, cfg herald.Config, env adapters.Env) (adapters.Subscription, error) {
	s, err := parse(cfg)
	if err != nil {
		return nil, err
	}
	return openSubscription(ctx, s, env)
}

// OpenRequester connects within ctx and returns the request/reply side:
// Direct Reply-to on one channel (see requester).
func (Driver) OpenRequester(ctx context.Context, cfg herald.Config, env adapters.Env) (adapters.Requester, error) {
	s, err := parse(cfg)
	if err != nil {
		return nil, err
	}
	return openRequester(ctx, s, env)
}
