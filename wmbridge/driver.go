package wmbridge

import (
	"context"
	"slices"
	"sort"
	"strings"

	"github.com/ThreeDotsLabs/watermill"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// NewDriver makes a Herald driver of a Watermill Pub/Sub: publisher.Open
// and subscriber.Open use it once it is registered (adapters.Register, or
// Register here), and it runs the conformance suite like any driver.
//
// Its Topic sends messages through the Watermill publisher, in order
// (several queued messages to one topic go in one Publish call), and
// calls each message's done with Publish's result. Its Stream receives
// from the Watermill subscriber's channel and holds at most Window
// messages unsettled; Ack is msg.Ack() and Nack msg.Nack().
func NewDriver(b Backend) adapters.Driver {
	if b.Name == "" {
		b.Name = "watermill"
	}
	b.Options = slices.Clone(b.Options)
	sort.Strings(b.Options)
	return &driver{b: b}
}

// Register makes the Watermill Pub/Sub b the Herald backend of scheme,
// so that publisher.Open(ctx, scheme+"://...") and subscriber.Open use
// it. Like adapters.Register, it is meant for an init function and
// panics when scheme is taken.
func Register(scheme string, b Backend) {
	if b.Name == "" {
		b.Name = strings.ToLower(scheme)
	}
	adapters.Register(scheme, NewDriver(b))
}

type driver struct{ b Backend }

func (d *driver) Validate(cfg herald.Config) error {
	for k, v := range cfg.Options {
		if _, ok := slices.BinarySearch(d.b.Options, k); !ok {
			allowed := strings.Join(d.b.Options, ", ")
			if allowed == "" {
				allowed = "none"
			}
			if herald.IsSecretKey(k) {
				v = ""
			}
			return &herald.ConfigError{Key: k, Value: v, Problem: "is not an option of the " + d.b.Name + " backend", Allowed: allowed}
		}
	}
	if d.b.Validate != nil {
		return d.b.Validate(cfg)
	}
	return nil
}

func (d *driver) Capabilities(cfg herald.Config) adapters.Capabilities {
	if d.b.Capabilities == nil {
		return Conservative()
	}
	c := d.b.Capabilities(cfg)
	// A Watermill Nack has no delay and a Watermill message no delivery
	// count: whatever is declared, the facade does both.
	c.NackDelay, c.CountsAttempts = false, false
	if c.DefaultWindow < 1 {
		c.DefaultWindow = 1
	}
	if c.MaxWindow > 0 && c.DefaultWindow > c.MaxWindow {
		c.DefaultWindow = c.MaxWindow
	}
	return c
}

func (d *driver) OpenTopic(ctx context.Context, cfg herald.Config, env adapters.Env) (adapters.Topic, error) {
	if d.b.NewPublisher == nil {
		return nil, &herald.Error{Backend: d.b.Name, Op: "open publisher", Kind: herald.KindInvalid, Err: errNoPublisher}
	}
	pub, err := d.b.NewPublisher(ctx, cfg, watermill.NewSlogLogger(env.Logger))
	if err != nil {
		return nil, d.wrap("open publisher", "", herald.KindUnreachable, err)
	}
	return newTopic(d, pub), nil
}

func (d *driver) OpenSubscription(ctx context.Context, cfg herald.Config, env adapters.Env) (adapters.Subscription, error) {
	if d.b.NewSubscriber == nil {
		return nil, &herald.Error{Backend: d.b.Name, Op: "open subscriber", Kind: herald.KindInvalid, Err: errNoSubscriber}
	}
	sub, err := d.b.NewSubscriber(ctx, cfg, watermill.NewSlogLogger(env.Logger))
	if err != nil {
		return nil, d.wrap("open subscriber", "", herald.KindUnreachable, err)
	}
	return newSubscription(d, sub), nil
}

// OpenRequester implements adapters.Driver: a Watermill Publisher and
// Subscriber have no reply channel Herald could share between requests
// (Watermill's requestreply opens a subscriber per request), so a bridged
// backend refuses request/reply, naming itself.
func (d *driver) OpenRequester(context.Context, herald.Config, adapters.Env) (adapters.Requester, error) {
	return nil, &herald.Error{Backend: d.b.Name, Op: "open requester", Kind: herald.KindInvalid, Err: errNoRequester}
}
