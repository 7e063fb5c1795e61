package memory

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

func init() { adapters.Register(Scheme, adapter{}) }

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
	p := &publisher{bus: acquire(s)}
	p.stop, p.cancel = context.WithCancel(context.Background())
	return p, nil
}

// Subscriber implements adapters.Adapter.
func (adapter) Subscriber(_ context.Context, cfg herald.Config) (message.Subscriber, error) {
	s, err := parse(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Group == "" {
		return &subscriber{bus: acquire(s), group: watermill.NewULID(), private: true}, nil
	}
	return &subscriber{bus: acquire(s), group: cfg.Group}, nil
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

// groupKey names a group on a topic; a private group (a subscriber
// without a group) never shares a key with a named one.
type groupKey struct {
	topic, group string
	private      bool
}

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
				// The pumps see the publish context, so a publish
				// waiting for a full queue ends with its context.
				PreserveContext: true,
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
	bus    *bus
	once   sync.Once
	closed atomic.Bool
	stop   context.Context // cancelled by Close
	cancel context.CancelFunc

	// PublishAsync (async.go).
	amu       sync.RWMutex // held for reading by PublishAsync calls
	asyncOnce sync.Once
	aq        chan asyncReq
	asyncDone chan struct{}
}

var _ adapters.ContextPublisher = (*publisher)(nil)

// Publish is PublishContext with the first message's context.
func (p *publisher) Publish(topic string, msgs ...*message.Message) error {
	ctx := context.Background()
	if len(msgs) > 0 {
		ctx = msgs[0].Context()
	}
	return p.PublishContext(ctx, topic, msgs...)
}

// dropKey marks a publish context; a group pump that gives up queueing a
// message because that context ended sets the flag.
type dropKey struct{}

// PublishContext queues msgs for every group of topic. It waits while a
// group's queue is full, until ctx ends or the publisher closes; then the
// message is not queued for that group and the error wraps ctx.Err().
// The bus is in the process: it is never unreachable.
func (p *publisher) PublishContext(ctx context.Context, topic string, msgs ...*message.Message) error {
	if p.closed.Load() {
		return closedError(opPublish, topic)
	}
	if topic == "" {
		return opError(opPublish, topic, errors.New("topic is empty"))
	}
	if err := ctx.Err(); err != nil {
		return opError(opPublish, topic, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(p.stop, cancel)
	defer stop()
	dropped := new(atomic.Bool)
	ctx = context.WithValue(ctx, dropKey{}, dropped)
	copies := make([]*message.Message, len(msgs))
	for i, m := range msgs {
		c := m.Copy()
		c.SetContext(ctx)
		copies[i] = c
	}
	if err := p.bus.gc.Publish(topic, copies...); err != nil {
		return opError(opPublish, topic, err)
	}
	if dropped.Load() {
		if p.closed.Load() {
			return closedError(opPublish, topic)
		}
		return opError(opPublish, topic, fmt.Errorf("a group's queue stayed full: %w", context.Cause(ctx)))
	}
	return nil
}

func (p *publisher) Close() error {
	var err error
	p.once.Do(func() {
		p.closed.Store(true)
		p.cancel()
		p.closeAsync()
		err = p.bus.release()
	})
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
