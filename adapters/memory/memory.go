package memory

import (
	"context"
	"sync"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

func init() { adapters.Register("mem", adapter{}) }

type adapter struct{}

type settings struct {
	name   string
	buffer int
}

func parse(cfg herald.Config) (settings, error) {
	r := cfg.OptionReader()
	s := settings{name: "default", buffer: r.Int("buffer", 1024, 1, 1<<20)}
	if err := r.Err(); err != nil {
		return s, err
	}
	switch {
	case len(cfg.Hosts) > 1:
		return s, &herald.ConfigError{Key: "hosts", Problem: "names more than one bus", Allowed: "mem:// or mem://name"}
	case len(cfg.Hosts) == 1:
		s.name = cfg.Hosts[0]
	}
	if cfg.Path != "" && cfg.Path != "/" {
		return s, &herald.ConfigError{Key: "path", Value: cfg.Path, Problem: "is not used by the memory bus", Allowed: "mem:// or mem://name"}
	}
	if cfg.Username != "" || cfg.Password != "" {
		return s, &herald.ConfigError{Key: "username", Problem: "credentials are not used by the memory bus", Allowed: "mem:// or mem://name"}
	}
	return s, nil
}

// Validate implements adapters.Validator.
func (adapter) Validate(cfg herald.Config) error {
	_, err := parse(cfg)
	return err
}

// Publisher implements adapters.Adapter.
func (adapter) Publisher(_ context.Context, cfg herald.Config) (message.Publisher, error) {
	s, err := parse(cfg)
	if err != nil {
		return nil, err
	}
	return &publisher{bus: acquire(s)}, nil
}

// Subscriber implements adapters.Adapter.
func (adapter) Subscriber(_ context.Context, cfg herald.Config) (message.Subscriber, error) {
	s, err := parse(cfg)
	if err != nil {
		return nil, err
	}
	group := cfg.Group
	if group == "" {
		group = "private-" + watermill.NewULID()
	}
	return &subscriber{bus: acquire(s), group: group}, nil
}

// bus is one named, reference-counted gochannel and its groups.
type bus struct {
	name   string
	buffer int
	gc     *gochannel.GoChannel

	mu     sync.Mutex
	refs   int
	groups map[groupKey]*group
}

type groupKey struct{ topic, group string }

var (
	busesMu sync.Mutex
	buses   = map[string]*bus{}
)

func acquire(s settings) *bus {
	busesMu.Lock()
	defer busesMu.Unlock()
	b := buses[s.name]
	if b == nil {
		b = &bus{
			name:   s.name,
			buffer: s.buffer,
			gc: gochannel.NewGoChannel(gochannel.Config{
				// The group pumps ack once a message is queued, so this
				// only orders messages and applies backpressure.
				BlockPublishUntilSubscriberAck: true,
			}, watermill.NopLogger{}),
			groups: map[groupKey]*group{},
		}
		buses[s.name] = b
	}
	b.refs++
	return b
}

func (b *bus) release() error {
	busesMu.Lock()
	defer busesMu.Unlock()
	b.refs--
	if b.refs > 0 {
		return nil
	}
	delete(buses, b.name)
	return b.gc.Close()
}

type publisher struct {
	bus  *bus
	once sync.Once
}

func (p *publisher) Publish(topic string, msgs ...*message.Message) error {
	return p.bus.gc.Publish(topic, msgs...)
}

func (p *publisher) Close() error {
	var err error
	p.once.Do(func() { err = p.bus.release() })
	return err
}

// As exposes the underlying *gochannel.GoChannel.
func (p *publisher) As(target any) bool { return asGoChannel(p.bus, target) }

func asGoChannel(b *bus, target any) bool {
	if t, ok := target.(**gochannel.GoChannel); ok {
		*t = b.gc
		return true
	}
	return false
}
