package nats

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/internal/natsx"
)

// Scheme is the URL scheme this package registers.
const Scheme = "nats"

func init() { adapters.Register(Scheme, Adapter{}) }

// Adapter opens NATS publishers and subscribers; it is registered for the
// "nats" scheme. The returned publisher and subscriber have an
// As(target any) bool method (see the package documentation).
type Adapter struct{}

var (
	_ adapters.Adapter   = Adapter{}
	_ adapters.Validator = Adapter{}
)

// Validate checks cfg without connecting (it reads the nkey, creds and TLS
// files it names).
func (Adapter) Validate(cfg herald.Config) error {
	_, err := parse(cfg)
	return err
}

// Publisher connects and returns the publish side for cfg.
func (Adapter) Publisher(ctx context.Context, cfg herald.Config) (message.Publisher, error) {
	s, err := parse(cfg)
	if err != nil {
		return nil, err
	}
	nc, err := connect(ctx, s)
	if err != nil {
		return nil, err
	}
	var p message.Publisher
	if s.core {
		p, err = newCorePublisher(nc, s, adapters.Logger(ctx))
	} else {
		p, err = natsx.NewPublisher(nc, s.js, natsx.Options{Scheme: Scheme, Logger: adapters.Logger(ctx)})
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	return p, nil
}

// Subscriber connects and returns the consume side for cfg; cfg.Group is
// the consumer group ("" for a consumer private to this subscriber).
func (Adapter) Subscriber(ctx context.Context, cfg herald.Config) (message.Subscriber, error) {
	s, err := parse(cfg)
	if err != nil {
		return nil, err
	}
	nc, err := connect(ctx, s)
	if err != nil {
		return nil, err
	}
	var sub message.Subscriber
	if s.core {
		sub, err = newCoreSubscriber(nc, s, cfg.Group, adapters.Logger(ctx))
	} else {
		sub, err = natsx.NewSubscriber(nc, s.js, cfg.Group, natsx.Options{Scheme: Scheme, Logger: adapters.Logger(ctx)})
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	return sub, nil
}

// connect dials the servers, giving up when ctx ends. Once connected,
// the client reconnects by itself (max_reconnects, reconnect_wait).
func connect(ctx context.Context, s *settings) (*nats.Conn, error) {
	servers := strings.Join(s.servers, ",")
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("herald/nats: connect to %s: %w", servers, err)
	}
	d := newDialer(ctx, s.connectTimeout)
	opts := append(append([]nats.Option(nil), s.opts...), nats.SetCustomDialer(d), nats.SkipHostLookup())
	nc, err := nats.Connect(servers, opts...)
	d.opened()
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, fmt.Errorf("herald/nats: connect to %s: %w (%w)", servers, cerr, err)
		}
		if errors.Is(err, nats.ErrNoServers) {
			err = fmt.Errorf("%w: %w", herald.ErrUnreachable, err)
		} else {
			err = explainConnect(s.auth, err)
		}
		return nil, fmt.Errorf("herald/nats: connect to %s: %w", servers, err)
	}
	return nc, nil
}
