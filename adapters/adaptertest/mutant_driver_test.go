package adaptertest_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// mutant is a fault (or a declared capability) put on the memory bus's
// driver, to show that the suite's tests fail when a driver breaks the
// contract, and pass where the fault is a behaviour the capabilities
// allow. It is reached as mutant://<name> (see mutants).
type mutant struct {
	caps          func(*adapters.Capabilities) // changes what is declared
	doneTwice     bool                         // done is called twice
	lateDone      bool                         // done comes 20ms later, after Close returned
	untypedClosed bool                         // Send after Close returns a plain error
	ignoreCtx     bool                         // Send drops its ctx (deadline)
	wideWindow    bool                         // the bus is opened with 4 x Window
	swap          bool                         // Receive swaps its first delivery with a later one of its key
	invalid       bool                         // Valid is always false
	holdNack      bool                         // Nack's delay is held before the bus's Nack (a correct NackDelay)
	dropAck       bool                         // Ack does nothing
	ackOnNack     bool                         // Nack acks
	ackOnClose    bool                         // Close acks what is unsettled first
	fanout        bool                         // every subscription is a group of its own
	dropReply     bool                         // Requester.Reply sends nothing
	crossReply    bool                         // Requester.Request returns the previous request's reply
}

// fanouts numbers the groups of the fanout mutant.
var fanouts atomic.Uint64

// mutantDriver is registered for "mutant"; the host names the mutant.
type mutantDriver struct{}

func init() { adapters.Register("mutant", mutantDriver{}) }

// of returns the mutant cfg names and the memory bus configuration under
// it.
func (mutantDriver) of(cfg herald.Config) (*mutant, adapters.Driver, herald.Config, error) {
	if len(cfg.Hosts) != 1 || mutants[cfg.Hosts[0]].m == nil {
		return nil, nil, cfg, &herald.ConfigError{Key: "hosts", Problem: "names no mutant", Allowed: "a name in mutants"}
	}
	inner, err := adapters.Lookup("mem")
	if err != nil {
		return nil, nil, cfg, err
	}
	mem := herald.Config{Scheme: "mem", Hosts: []string{"mutant-" + cfg.Hosts[0]}, Group: cfg.Group}
	if mutants[cfg.Hosts[0]].m.fanout && mem.Group != "" {
		mem.Group += "-" + strconv.FormatUint(fanouts.Add(1), 10)
	}
	return mutants[cfg.Hosts[0]].m, inner, mem, nil
}

func (d mutantDriver) Validate(cfg herald.Config) error {
	_, inner, mem, err := d.of(cfg)
	if err != nil {
		return err
	}
	return inner.Validate(mem)
}

func (d mutantDriver) Capabilities(cfg herald.Config) adapters.Capabilities {
	m, inner, mem, _ := d.of(cfg)
	c := inner.Capabilities(mem)
	if m.caps != nil {
		m.caps(&c)
	}
	return c
}

func (d mutantDriver) OpenTopic(ctx context.Context, cfg herald.Config, env adapters.Env) (adapters.Topic, error) {
	m, inner, mem, err := d.of(cfg)
	if err != nil {
		return nil, err
	}
	tp, err := inner.OpenTopic(ctx, mem, env)
	if err != nil {
		return nil, rebrand(err)
	}
	return &mutantTopic{m: m, in: tp}, nil
}

func (d mutantDriver) OpenSubscription(ctx context.Context, cfg herald.Config, env adapters.Env) (adapters.Subscription, error) {
	m, inner, mem, err := d.of(cfg)
	if err != nil {
		return nil, err
	}
	s, err := inner.OpenSubscription(ctx, mem, env)
	if err != nil {
		return nil, rebrand(err)
	}
	return &mutantSub{m: m, in: s}, nil
}

// rebrand gives the bus's *herald.Error the mutant's Backend.
func rebrand(err error) error {
	var he *herald.Error
	if !errors.As(err, &he) {
		return err
	}
	c := *he
	c.Backend = "mutant"
	return &c
}

type mutantTopic struct {
	m      *mutant
	in     adapters.Topic
	closed atomic.Bool
}

func (t *mutantTopic) Send(ctx context.Context, topic string, msg *herald.Message, o adapters.SendOptions, done func(error)) error {
	if t.m.untypedClosed && t.closed.Load() {
		return errors.New("closed")
	}
	if t.m.ignoreCtx {
		ctx = context.Background()
	}
	answer := func(err error) {
		done(rebrand(err))
		if t.m.doneTwice {
			done(nil)
		}
	}
	if t.m.lateDone {
		answer = func(err error) { time.AfterFunc(20*time.Millisecond, func() { done(rebrand(err)) }) }
	}
	return rebrand(t.in.Send(ctx, topic, msg, o, answer))
}

func (t *mutantTopic) Close(ctx context.Context) error {
	t.closed.Store(true)
	return rebrand(t.in.Close(ctx))
}

func (t *mutantTopic) As(target any) bool { return t.in.As(target) }

type mutantSub struct {
	m  *mutant
	in adapters.Subscription
}

func (s *mutantSub) Prepare(ctx context.Context, topic string) error {
	return rebrand(s.in.Prepare(ctx, topic))
}

func (s *mutantSub) Open(ctx context.Context, topic string, o adapters.StreamOptions) (adapters.Stream, error) {
	if s.m.wideWindow {
		o.Window *= 4
	}
	st, err := s.in.Open(ctx, topic, o)
	if err != nil {
		return nil, rebrand(err)
	}
	return &mutantStream{m: s.m, in: st, held: map[adapters.Token]bool{}}, nil
}

func (s *mutantSub) Close(ctx context.Context) error { return rebrand(s.in.Close(ctx)) }

func (s *mutantSub) As(target any) bool { return s.in.As(target) }

type mutantStream struct {
	m  *mutant
	in adapters.Stream

	mu   sync.Mutex
	held map[adapters.Token]bool // received, not settled (for ackOnClose)
}

// settled forgets t.
func (s *mutantStream) settled(t adapters.Token) {
	s.mu.Lock()
	delete(s.held, t)
	s.mu.Unlock()
}

func (s *mutantStream) Receive(ctx context.Context, buf []adapters.Received) (int, error) {
	n, err := s.in.Receive(ctx, buf)
	if s.m.swap {
		for i := 1; i < n; i++ {
			if buf[i].Key == buf[0].Key {
				buf[0], buf[i] = buf[i], buf[0]
				break
			}
		}
	}
	s.mu.Lock()
	for _, r := range buf[:n] {
		s.held[r.Token] = true
	}
	s.mu.Unlock()
	return n, rebrand(err)
}

func (s *mutantStream) Ack(t adapters.Token) {
	s.settled(t)
	if !s.m.dropAck {
		s.in.Ack(t)
	}
}

func (s *mutantStream) Nack(t adapters.Token, delay time.Duration) {
	s.settled(t)
	if s.m.ackOnNack {
		s.in.Ack(t)
		return
	}
	if s.m.holdNack && delay > 0 {
		time.AfterFunc(delay, func() { s.in.Nack(t, 0) })
		return
	}
	s.in.Nack(t, delay)
}

func (s *mutantStream) Valid(t adapters.Token) bool { return !s.m.invalid && s.in.Valid(t) }

func (s *mutantStream) Close(ctx context.Context) error {
	if s.m.ackOnClose {
		s.mu.Lock()
		for t := range s.held {
			s.in.Ack(t)
		}
		s.mu.Unlock()
	}
	return rebrand(s.in.Close(ctx))
}

func (d mutantDriver) OpenRequester(ctx context.Context, cfg herald.Config, env adapters.Env) (adapters.Requester, error) {
	_, inner, mem, err := d.of(cfg)
	if err != nil {
		return nil, err
	}
	m, _, _, _ := d.of(cfg)
	r, err := inner.OpenRequester(ctx, mem, env)
	if err != nil {
		return nil, rebrand(err)
	}
	return &mutantRequester{Requester: r, m: m}, nil
}

// mutantRequester is the memory bus's requester with the mutant's
// request faults.
type mutantRequester struct {
	adapters.Requester
	m    *mutant
	mu   sync.Mutex
	last *herald.Message
}

func (r *mutantRequester) Request(ctx context.Context, topic string, msg *herald.Message) (*herald.Message, error) {
	rep, err := r.Requester.Request(ctx, topic, msg)
	if err != nil || !r.m.crossReply {
		return rep, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	prev := r.last
	r.last = rep
	if prev == nil {
		return rep, nil
	}
	return prev, nil
}

func (r *mutantRequester) Reply(ctx context.Context, to adapters.ReplyAddress, msg *herald.Message) error {
	if r.m.dropReply {
		return nil
	}
	return r.Requester.Reply(ctx, to, msg)
}
