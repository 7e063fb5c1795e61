package nats

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/internal/natsx"
)

// Scheme is the URL scheme this package registers.
const Scheme = "nats"

func init() { adapters.Register(Scheme, Driver{}) }

// Driver is the NATS driver (adapters.Driver), registered for the "nats"
// scheme: JetStream by default, core NATS with mode=core.
type Driver struct{}

var _ adapters.Driver = Driver{}

// Validate checks cfg without connecting (it reads the nkey, creds and TLS
// files it names).
func (Driver) Validate(cfg herald.Config) error {
	_, err := parse(cfg)
	return err
}

// Capabilities implements adapters.Driver. JetStream: durable groups
// (file storage), broker redelivery with a native nack delay, the
// broker's delivery count, order from one stream shared by a group. Core
// NATS: at most once (not durable, no redelivery by the server: a failed
// message is handled again by the subscriber itself, RedeliverLocal),
// queue groups, order from one publisher connection. MaxMessageSize is
// the server's max_payload once a connection to cfg's servers was made in
// this process, else 0 (unknown).
func (Driver) Capabilities(cfg herald.Config) adapters.Capabilities {
	s, err := parse(cfg)
	if err != nil {
		return adapters.Capabilities{}
	}
	size := knownMaxPayload(s.servers)
	if s.core {
		return adapters.Capabilities{
			Groups:         true,
			Redelivery:     adapters.RedeliverLocal,
			Order:          adapters.OrderQueue,
			MaxMessageSize: size,
			DefaultWindow:  natsx.CoreWindow,
			Request:        adapters.RequestCaps{Path: adapters.RequestInbox, FailFast: true},
		}
	}
	return natsx.Capabilities(s.js, size, false)
}

// OpenTopic implements adapters.Driver: it connects and returns the
// publish side.
func (Driver) OpenTopic(ctx context.Context, cfg herald.Config, env adapters.Env) (adapters.Topic, error) {
	s, err := parse(cfg)
	if err != nil {
		return nil, err
	}
	nc, err := connect(ctx, s, env)
	if err != nil {
		return nil, err
	}
	var t adapters.Topic
	if s.core {
		t = newCoreTopic(nc, env)
	} else {
		t, err = natsx.NewTopic(nc, s.js, natsx.Options{Scheme: Scheme, Logger: env.Logger})
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	return t, nil
}

// OpenSubscription implements adapters.Driver: it connects and returns
// the consume side of cfg.Group ("" for a consumer private to this
// subscription).
func (Driver) OpenSubscription(ctx context.Context, cfg herald.Config, env adapters.Env) (adapters.Subscription, error) {
	s, err := parse(cfg)
	if err != nil {
		return nil, err
	}
	nc, err := connect(ctx, s, env)
	if err != nil {
		return nil, err
	}
	var sub adapters.Subscription
	if s.core {
		sub = newCoreSubscription(nc, cfg.Group, env)
	} else {
		sub, err = natsx.NewSubscription(nc, s.js, cfg.Group, natsx.Options{Scheme: Scheme, Logger: env.Logger})
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	return sub, nil
}

// connect dials the servers, giving up when ctx ends. Once connected,
// the client reconnects by itself (max_reconnects, reconnect_wait).
func connect(ctx context.Context, s *settings, env adapters.Env) (*nats.Conn, error) {
	servers := strings.Join(s.servers, ",")
	fail := func(k herald.Kind, err error) error {
		return &herald.Error{Backend: Scheme, Op: "connect to " + servers, Kind: k, Err: err}
	}
	if err := ctx.Err(); err != nil {
		return nil, fail(herald.KindUnreachable, err)
	}
	d := newDialer(ctx, s.connectTimeout)
	opts := append(append([]nats.Option(nil), s.opts...), nats.SetCustomDialer(d), nats.SkipHostLookup())
	nc, err := nats.Connect(servers, opts...)
	d.opened()
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, fail(herald.KindUnreachable, fmt.Errorf("%w (%w)", cerr, err))
		}
		if errors.Is(err, nats.ErrNoServers) {
			return nil, fail(herald.KindUnreachable, err)
		}
		k, err := explainConnect(s.auth, err)
		return nil, fail(k, err)
	}
	recordMaxPayload(s.servers, nc.MaxPayload())
	return nc, nil
}

// maxPayloads holds the max_payload of the servers connected to, by
// their URL list, for Capabilities.
var maxPayloads sync.Map

func recordMaxPayload(servers []string, n int64) {
	maxPayloads.Store(strings.Join(servers, ","), int(n))
}

func knownMaxPayload(servers []string) int {
	if v, ok := maxPayloads.Load(strings.Join(servers, ",")); ok {
		return v.(int)
	}
	return 0
}

// OpenRequester implements adapters.Driver: a connection of its own with
// one multiplexed inbox subscription (natsx.Requester). Core NATS
// publishes requests with the inbox as reply subject and fails fast on
// the server's no-responders status; JetStream stores them in the
// topic's stream and carries the inbox in the herald-reply-to header.
func (Driver) OpenRequester(ctx context.Context, cfg herald.Config, env adapters.Env) (adapters.Requester, error) {
	s, err := parse(cfg)
	if err != nil {
		return nil, err
	}
	nc, err := connect(ctx, s, env)
	if err != nil {
		return nil, err
	}
	o := natsx.Options{Scheme: Scheme, Logger: env.Logger}
	var js *natsx.Topic
	if !s.core {
		if js, err = natsx.NewTopic(nc, s.js, o); err != nil {
			nc.Close()
			return nil, err
		}
	}
	r, err := natsx.NewRequester(nc, js, o)
	if err != nil {
		if js != nil {
			_ = js.Close(ctx)
		}
		nc.Close()
		return nil, err
	}
	return r, nil
}
