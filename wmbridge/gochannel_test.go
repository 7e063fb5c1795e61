package wmbridge_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/adaptertest"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
	"github.com/heraldkit/herald/wmbridge"
)

// goChannels are the GoChannels of the wmgochannel scheme, one per host
// name ("wmgochannel://name"), shared by every publisher and subscriber
// of that name in the process, like mem://name.
var goChannels = struct {
	sync.Mutex
	m map[string]*gochannel.GoChannel
}{m: map[string]*gochannel.GoChannel{}}

func goChannel(cfg herald.Config) *gochannel.GoChannel {
	name := ""
	if len(cfg.Hosts) > 0 {
		name = cfg.Hosts[0]
	}
	goChannels.Lock()
	defer goChannels.Unlock()
	g := goChannels.m[name]
	if g == nil {
		g = gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{})
		goChannels.m[name] = g
	}
	return g
}

// shared is a GoChannel whose Close does nothing: it is shared by name
// and lives as long as the test process.
type shared struct{ *gochannel.GoChannel }

func (shared) Close() error { return nil }

// goChannelBackend is Watermill's GoChannel as a Herald backend, with the
// capabilities it has: no durability (a message published with no
// subscriber is dropped), no groups (every subscriber gets every
// message), a nacked message sent again by GoChannel itself, no order
// (one goroutine per message and subscriber), in one process, with no
// limit on the messages it hands out unacked.
var goChannelBackend = wmbridge.Backend{
	NewPublisher: func(_ context.Context, cfg herald.Config, _ watermill.LoggerAdapter) (message.Publisher, error) {
		return shared{goChannel(cfg)}, nil
	},
	NewSubscriber: func(_ context.Context, cfg herald.Config, _ watermill.LoggerAdapter) (message.Subscriber, error) {
		return shared{goChannel(cfg)}, nil
	},
	Capabilities: func(herald.Config) adapters.Capabilities {
		c := wmbridge.Conservative()
		c.SingleProcess = true
		c.MaxWindow = 0 // GoChannel hands out every message at once, unacked
		return c
	},
}

func init() { wmbridge.Register("wmgochannel", goChannelBackend) }

// TestGoChannelConformance runs Herald's conformance suite, at the driver
// level and end to end, on Watermill's GoChannel through NewDriver: what
// GoChannel does not do is skipped by the capabilities it declares.
func TestGoChannelConformance(t *testing.T) {
	s := adaptertest.Suite{Target: "wmgochannel://conformance", Wait: 10 * time.Second}
	t.Run("driver", func(t *testing.T) { adaptertest.RunDriver(t, s) })
	t.Run("end-to-end", func(t *testing.T) { adaptertest.Run(t, s) })
}

// TestFacadeCloseAfterAck: a subscriber (the facade) that handled and
// acked a message on a bridged Watermill Pub/Sub closes at once. Its
// stream waits for the Pub/Sub to act on the acks made (the context the
// Pub/Sub gave the message ends), not for the context the facade set on
// the message: Close took the whole 2 s bound when it read the message's
// context at Ack time.
func TestFacadeCloseAfterAck(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ready := make(chan string, 1)
	sub, err := subscriber.Open(ctx, "wmgochannel://close-after-ack", subscriber.WithReady(func(topic string) { ready <- topic }))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := publisher.Open(ctx, "wmgochannel://close-after-ack")
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	handled := make(chan struct{})
	go func() {
		_ = sub.Subscribe(ctx, "t", func(context.Context, *herald.Message) error {
			close(handled)
			return nil
		})
	}()
	<-ready
	if err := pub.Publish(ctx, "t", herald.NewMessage([]byte("x"))); err != nil {
		t.Fatal(err)
	}
	<-handled
	start := time.Now()
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v after one acked message; want well under the 2 s the stream waits at most for acks", d)
	}
}
