package heraldtest

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// Harness is one isolated in-memory backend with its clock and records.
// Its methods are safe for concurrent use.
type Harness struct {
	name  string
	clock *Clock
	bus   *bus
}

var (
	harnessesMu sync.Mutex
	harnesses   = map[string]*bus{}
	harnessSeq  uint64
)

func init() { adapters.Register(Scheme, driver{}) }

// New returns a harness of its own for t (Open), closed when t ends.
func New(t testing.TB) *Harness {
	t.Helper()
	h := Open()
	t.Cleanup(h.Close)
	return h
}

// Open returns a harness of its own: a backend no other harness shares
// (tests may run in parallel), with a Clock set to the real time now (see
// Clock). Close it when done (New does it for a test); Examples and
// TestMain use Open.
func Open() *Harness {
	harnessesMu.Lock()
	defer harnessesMu.Unlock()
	harnessSeq++
	name := fmt.Sprintf("h%d-%s", harnessSeq, strings.ToLower(herald.NewID()))
	clock := NewClock(time.Now())
	b := newBus(name, clock)
	harnesses[name] = b
	return &Harness{name: name, clock: clock, bus: b}
}

// URL is the target for publisher.Open and subscriber.Open that reaches
// this harness: "heraldtest://<name>". Give it to the code under test
// where it would take a broker URL (a flag, HERALD_URL, a config field);
// a group is set as everywhere (subscriber.WithGroup, ?group=).
func (h *Harness) URL() string { return Scheme + "://" + h.name }

// Clock is the harness's fake clock: redelivery delays, delayed messages
// and DownFor outages run on it.
func (h *Harness) Clock() *Clock { return h.clock }

// Close ends the harness: its URL no longer opens anything, publishes
// and requests fail with herald.ErrClosed (the requests waiting too),
// delayed messages still held are dropped, and streams close (a
// subscriber still running retries as after an outage, until it is
// closed). Close the
// code under test first; New's cleanup runs after the test's own. It is
// idempotent.
func (h *Harness) Close() {
	harnessesMu.Lock()
	delete(harnesses, h.name)
	harnessesMu.Unlock()
	b := h.bus
	b.mu.Lock()
	b.closed = true
	var streams []*stream
	for _, gs := range b.topics {
		for _, g := range gs {
			for _, t := range g.held {
				t.Stop()
			}
			for st := range g.members {
				streams = append(streams, st)
			}
		}
	}
	b.dropSchedule()
	for _, r := range b.inboxes {
		r.shut()
	}
	b.notify()
	b.mu.Unlock()
	for _, st := range streams {
		_ = st.Close(context.Background())
	}
}

// WaitSubscribed returns once group ("" for any subscriber without a
// group) has a subscription running on topic: messages published from
// then on reach it. Use it when the code under test starts its
// subscribers itself.
func (h *Harness) WaitSubscribed(ctx context.Context, topic, group string) error {
	b := h.bus
	for {
		b.mu.Lock()
		found := false
		for _, g := range b.topics[topic] {
			if g.name == group && len(g.members) > 0 {
				found = true
			}
		}
		wait := b.changed
		b.mu.Unlock()
		if found {
			return nil
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return fmt.Errorf("heraldtest: no subscriber of group %q on topic %q: %w", group, topic, ctx.Err())
		}
	}
}

// lookup finds the bus of a harness by name.
func lookup(name string) (*bus, bool) {
	harnessesMu.Lock()
	defer harnessesMu.Unlock()
	b, ok := harnesses[name]
	return b, ok
}

// driver is the harness's adapters.Driver.
type driver struct{}

// Validate implements adapters.Driver: the URL names a live harness and
// has no options.
func (driver) Validate(cfg herald.Config) error {
	_, err := parse(cfg)
	return err
}

func parse(cfg herald.Config) (*bus, error) {
	const allowed = "Harness.URL(), heraldtest://<harness>"
	if err := cfg.OptionReader().Err(); err != nil {
		return nil, err
	}
	if len(cfg.Hosts) != 1 {
		return nil, &herald.ConfigError{Key: "hosts", Problem: "must name one harness", Allowed: allowed}
	}
	if cfg.Path != "" && cfg.Path != "/" {
		return nil, &herald.ConfigError{Key: "path", Value: cfg.Path, Problem: "is not used by the harness", Allowed: allowed}
	}
	if cfg.Username != "" || cfg.Password != "" {
		return nil, &herald.ConfigError{Key: "username", Problem: "credentials are not used by the harness", Allowed: allowed}
	}
	b, ok := lookup(cfg.Hosts[0])
	if !ok {
		return nil, &herald.ConfigError{Key: "hosts", Value: cfg.Hosts[0], Problem: "is no open harness (its test ended, or it was not made by heraldtest.New)", Allowed: allowed}
	}
	return b, nil
}

// Capabilities implements adapters.Driver: groups, redelivery by the
// harness after the subscriber's delay on the harness's clock, attempts
// counted per group, per-key order within a group; delayed delivery on
// the harness's clock (no limit, exactly at its time, not durable, in
// send order for equal times); request/reply through an inbox per client
// on the harness, failing at once for a topic no group subscribes to.
func (driver) Capabilities(herald.Config) adapters.Capabilities {
	return adapters.Capabilities{
		Groups:         true,
		Redelivery:     adapters.RedeliverBroker,
		NackDelay:      true,
		CountsAttempts: true,
		Order:          adapters.OrderKey,
		DefaultWindow:  256,
		SingleProcess:  true,
		Delay:          adapters.DelayCapabilities{Max: math.MaxInt64, Precision: 0, Ordered: true},
		Request:        adapters.RequestCaps{Path: adapters.RequestInProcess, FailFast: true},
		Properties:     adapters.PropertyCaps{Time: true, TTL: true, Type: true}, // recorded in Publications
	}
}

// OpenTopic implements adapters.Driver.
func (driver) OpenTopic(_ context.Context, cfg herald.Config, _ adapters.Env) (adapters.Topic, error) {
	b, err := parse(cfg)
	if err != nil {
		return nil, err
	}
	return &topic{bus: b}, nil
}

// OpenSubscription implements adapters.Driver.
func (driver) OpenSubscription(_ context.Context, cfg herald.Config, _ adapters.Env) (adapters.Subscription, error) {
	b, err := parse(cfg)
	if err != nil {
		return nil, err
	}
	return &subscription{bus: b, group: cfg.Group, streams: map[*stream]struct{}{}}, nil
}
