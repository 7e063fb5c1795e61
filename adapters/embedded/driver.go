package embedded

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/internal/natsx"
)

// Scheme is the URL scheme this package registers.
const Scheme = "embedded"

func init() { adapters.Register(Scheme, Driver{}) }

// Driver is the embedded broker's driver (adapters.Driver), registered
// for the "embedded" scheme: an in-process NATS server with JetStream on
// a data directory, driven by the JetStream engine of the nats driver.
type Driver struct{}

var _ adapters.Driver = Driver{}

// Validate checks cfg without starting anything.
func (Driver) Validate(cfg herald.Config) error {
	_, err := parse(cfg)
	return err
}

// Capabilities implements adapters.Driver: those of JetStream (durable
// groups, broker redelivery with a native nack delay, the broker's
// delivery count, order from one stream shared by a group), in one
// process, with messages up to MaxPayload.
func (Driver) Capabilities(cfg herald.Config) adapters.Capabilities {
	s, err := parse(cfg)
	if err != nil {
		return adapters.Capabilities{}
	}
	return natsx.Capabilities(s.js, MaxPayload, true)
}

// OpenTopic implements adapters.Driver: the publish side on the
// directory's server, started if this process does not run it yet.
func (Driver) OpenTopic(ctx context.Context, cfg herald.Config, env adapters.Env) (adapters.Topic, error) {
	s, in, nc, err := open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	t, err := natsx.NewTopic(nc, s.js, natsx.Options{Scheme: Scheme, OnClose: in.release, As: in.as, Logger: env.Logger})
	if err != nil {
		nc.Close()
		in.release()
		return nil, err
	}
	return t, nil
}

// OpenSubscription implements adapters.Driver: the consume side of
// cfg.Group ("" for a private consumer) on the directory's server.
func (Driver) OpenSubscription(ctx context.Context, cfg herald.Config, env adapters.Env) (adapters.Subscription, error) {
	s, in, nc, err := open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	sub, err := natsx.NewSubscription(nc, s.js, cfg.Group, natsx.Options{Scheme: Scheme, OnClose: in.release, As: in.as, Logger: env.Logger})
	if err != nil {
		nc.Close()
		in.release()
		return nil, err
	}
	return sub, nil
}

func open(ctx context.Context, cfg herald.Config) (*settings, *instance, *nats.Conn, error) {
	s, err := parse(cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, nil, &herald.Error{Backend: Scheme, Op: "open " + s.dir, Kind: herald.KindUnreachable, Err: err}
	}
	in, err := acquire(ctx, s.dir, s.server)
	if err != nil {
		k := herald.KindOther
		if ctx.Err() != nil {
			k = herald.KindUnreachable
		}
		return nil, nil, nil, &herald.Error{Backend: Scheme, Op: "open " + s.dir, Kind: k, Err: err}
	}
	nc, err := nats.Connect("",
		nats.InProcessServer(in),
		nats.Name("herald-embedded"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(100*time.Millisecond),
	)
	if err != nil {
		in.release()
		return nil, nil, nil, &herald.Error{Backend: Scheme, Op: "open " + s.dir, Kind: herald.KindUnreachable, Err: fmt.Errorf("connecting to the in-process server: %w", err)}
	}
	return s, in, nc, nil
}

// OpenRequester implements adapters.Driver: the JetStream request path
// of the nats driver (natsx.Requester) on the directory's server.
func (Driver) OpenRequester(ctx context.Context, cfg herald.Config, env adapters.Env) (adapters.Requester, error) {
	s, in, nc, err := open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	o := natsx.Options{Scheme: Scheme, OnClose: in.release, As: in.as, Logger: env.Logger}
	t, err := natsx.NewTopic(nc, s.js, o)
	if err != nil {
		nc.Close()
		in.release()
		return nil, err
	}
	r, err := natsx.NewRequester(nc, t, o)
	if err != nil {
		_ = t.Close(ctx)
		return nil, err
	}
	return r, nil
}
