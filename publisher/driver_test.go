package publisher_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/publisher"
)

// heldDriver is a driver whose Topic holds every message until the test
// answers it, and fails it (as the contract says) when its ctx ends
// first. Each test gets its own topic through the URL's host.
type heldDriver struct{}

var (
	heldMu     sync.Mutex
	heldTopics = map[string]*heldTopic{}
)

func init() { adapters.Register("held-test", heldDriver{}) }

func (heldDriver) Validate(herald.Config) error { return nil }
func (heldDriver) Capabilities(herald.Config) adapters.Capabilities {
	return adapters.Capabilities{Redelivery: adapters.RedeliverLocal}
}
func (heldDriver) OpenTopic(_ context.Context, cfg herald.Config, _ adapters.Env) (adapters.Topic, error) {
	heldMu.Lock()
	defer heldMu.Unlock()
	return heldTopics[cfg.Hosts[0]], nil
}
func (heldDriver) OpenSubscription(context.Context, herald.Config, adapters.Env) (adapters.Subscription, error) {
	return nil, errors.New("no subscriptions")
}

// heldTopic is the test's handle on the messages sent.
type heldTopic struct {
	mu      sync.Mutex
	waiting []pendingSend
	closed  bool
	took    chan *herald.Message
}

type pendingSend struct {
	m    *herald.Message
	done func(error)
	stop func() bool
}

func openHeld(t *testing.T, opts ...publisher.Option) (*publisher.Publisher, *heldTopic) {
	t.Helper()
	ht := &heldTopic{took: make(chan *herald.Message, 1<<16)}
	heldMu.Lock()
	heldTopics[t.Name()] = ht
	heldMu.Unlock()
	p, err := publisher.OpenConfig(context.Background(), herald.Config{Scheme: "held-test", Hosts: []string{t.Name()}}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p, ht
}

func (h *heldTopic) Send(ctx context.Context, _ string, m *herald.Message, o adapters.SendOptions, done func(error)) error {
	if o != (adapters.SendOptions{}) {
		return &herald.Error{Backend: "held-test", Op: "publish to", Kind: herald.KindInvalid, Err: errors.New("no delayed delivery, no properties")}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return &herald.Error{Backend: "held-test", Op: "publish to", Kind: herald.KindClosed}
	}
	var once sync.Once
	answer := func(err error) { once.Do(func() { done(err) }) }
	stop := context.AfterFunc(ctx, func() {
		answer(&herald.Error{Backend: "held-test", Op: "publish to", Kind: herald.KindOutcomeUnknown, Err: ctx.Err()})
	})
	h.waiting = append(h.waiting, pendingSend{m: m, done: answer, stop: stop})
	h.took <- m
	return nil
}

// answer answers every message taken so far: payload "bad" fails.
func (h *heldTopic) answer() int {
	h.mu.Lock()
	w := h.waiting
	h.waiting = nil
	h.mu.Unlock()
	for _, p := range w {
		p.stop()
		if string(p.m.Payload) == "bad" {
			p.done(errors.New("broker refused it"))
		} else {
			p.done(nil)
		}
	}
	return len(w)
}

func (h *heldTopic) Close(context.Context) error {
	h.mu.Lock()
	h.closed = true
	w := h.waiting
	h.waiting = nil
	h.mu.Unlock()
	for _, p := range w {
		p.done(&herald.Error{Backend: "held-test", Op: "publish to", Kind: herald.KindClosed})
	}
	return nil
}

func (h *heldTopic) As(any) bool { return false }

func (heldDriver) OpenRequester(context.Context, herald.Config, adapters.Env) (adapters.Requester, error) {
	return nil, errors.New("no requester")
}
