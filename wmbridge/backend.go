package wmbridge

import (
	"context"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// Backend describes a Watermill Pub/Sub to be used as a Herald backend
// (see NewDriver and Register): how to make its publisher and subscriber
// for a configuration, and what it honestly does.
type Backend struct {
	// Name is the backend's name in errors (herald.Error.Backend);
	// Register sets it to the scheme when empty.
	Name string
	// NewPublisher makes the Watermill publisher for cfg (its hosts,
	// credentials, path and Options). nil: the backend cannot publish.
	// The publisher is closed with the Herald publisher; if it is also
	// the subscriber (one GoChannel), make Close a no-op on one side.
	NewPublisher func(ctx context.Context, cfg herald.Config, logger watermill.LoggerAdapter) (message.Publisher, error)
	// NewSubscriber makes the Watermill subscriber for cfg; cfg.Group is
	// the consumer group ("" for a subscriber that gets every message).
	// nil: the backend cannot subscribe.
	NewSubscriber func(ctx context.Context, cfg herald.Config, logger watermill.LoggerAdapter) (message.Subscriber, error)
	// Capabilities says what the Pub/Sub does for cfg; nil means
	// Conservative. Declare only what it guarantees: the facade and the
	// conformance suite rely on it.
	Capabilities func(cfg herald.Config) adapters.Capabilities
	// Options are the URL options (Config.Options keys) the constructors
	// read; Validate refuses any other.
	Options []string
	// Validate, when set, checks cfg further without I/O, after the
	// option names were checked; return *herald.ConfigError values.
	Validate func(cfg herald.Config) error
	// ErrorKind, when set, classifies an error of the Watermill Pub/Sub
	// (herald.KindOther: no opinion). Unclassified, a failed Publish is
	// herald.KindOutcomeUnknown (a Watermill publisher does not say
	// whether the broker stored the message) and a failed open or
	// subscribe herald.KindUnreachable.
	ErrorKind func(err error) herald.Kind
}

// Conservative is what a Watermill Pub/Sub is assumed to do when its
// Backend declares no Capabilities: nothing beyond Watermill's own
// contract. Messages are not durable, there are no consumer groups, a
// nacked message is redelivered by the Pub/Sub itself (msg.Nack()), with
// no native delay and no attempt count, in no particular order. The
// window is 1, and so is MaxWindow: a Watermill subscriber typically
// hands the next message of a subscription only after the previous one
// was acked or nacked.
func Conservative() adapters.Capabilities {
	return adapters.Capabilities{
		Redelivery:    adapters.RedeliverBroker,
		Order:         adapters.OrderNone,
		DefaultWindow: 1,
		MaxWindow:     1,
	}
}
