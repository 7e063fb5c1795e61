package memory

import (
	"context"
	"sync"
	"time"

	"github.com/heraldkit/herald/adapters"

	"github.com/ThreeDotsLabs/watermill/message"
)

// group is one consumer group on one topic: a single gochannel
// subscription feeding a queue that the group's members compete for.
type group struct {
	queue   chan *message.Message
	members int
	cancel  context.CancelFunc
	done    chan struct{}
}

type subscriber struct {
	bus   *bus
	group string

	mu     sync.Mutex
	closed bool
	stop   chan struct{}
	wg     sync.WaitGroup
	once   sync.Once
}

// join adds a member to the group for topic, starting the group's pump on
// the first member.
func (b *bus) join(topic, name string) (*group, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := groupKey{topic, name}
	if g := b.groups[k]; g != nil {
		g.members++
		return g, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	in, err := b.gc.Subscribe(ctx, topic)
	if err != nil {
		cancel()
		return nil, err
	}
	g := &group{queue: make(chan *message.Message, b.buffer), members: 1, cancel: cancel, done: make(chan struct{})}
	b.groups[k] = g
	go g.pump(in)
	return g, nil
}

func (b *bus) leave(topic, name string, g *group) {
	b.mu.Lock()
	defer b.mu.Unlock()
	g.members--
	if g.members == 0 {
		delete(b.groups, groupKey{topic, name})
		g.cancel()
		close(g.done)
	}
}

// pump moves messages from the gochannel subscription into the group's
// queue, acking each once it is queued.
func (g *group) pump(in <-chan *message.Message) {
	for msg := range in {
		select {
		case g.queue <- msg.Copy():
			msg.Ack()
		case <-g.done:
			msg.Nack()
			return
		}
	}
}

// requeueUnacked requeues msg unless it was acked: a subscription that
// ends right after its handler acked must not redeliver the message.
func (g *group) requeueUnacked(msg *message.Message) {
	select {
	case <-msg.Acked():
	default:
		go g.requeue(msg)
	}
}

// requeue puts a nacked message back at the end of the queue.
func (g *group) requeue(msg *message.Message) {
	select {
	case g.queue <- msg.Copy():
	case <-g.done:
	}
}

func (s *subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	if s.stop == nil {
		s.stop = make(chan struct{})
	}
	g, err := s.bus.join(topic, s.group)
	if err != nil {
		return nil, err
	}
	out := make(chan *message.Message)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(out)
		defer s.bus.leave(topic, s.group, g)
		s.member(ctx, g, out)
	}()
	return out, nil
}

// member delivers queued messages to one subscription, one at a time, until
// ctx is done or the subscriber closes.
func (s *subscriber) member(ctx context.Context, g *group, out chan<- *message.Message) {
	for {
		var msg *message.Message
		select {
		case msg = <-g.queue:
		case <-ctx.Done():
			return
		case <-s.stop:
			return
		}
		msgCtx, cancel := context.WithCancel(ctx)
		msg.SetContext(msgCtx)
		select {
		case out <- msg:
		case <-ctx.Done():
			cancel()
			go g.requeue(msg)
			return
		case <-s.stop:
			cancel()
			go g.requeue(msg)
			return
		}
		select {
		case <-msg.Acked():
		case <-msg.Nacked():
			if d, ok := adapters.NackDelay(msg); ok && d > 0 {
				time.AfterFunc(d, func() { g.requeue(msg) })
			} else {
				go g.requeue(msg)
			}
		case <-ctx.Done():
			g.requeueUnacked(msg)
			cancel()
			return
		case <-s.stop:
			g.requeueUnacked(msg)
			cancel()
			return
		}
		cancel()
	}
}

func (s *subscriber) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		if s.stop != nil {
			close(s.stop)
		}
		s.mu.Unlock()
		s.wg.Wait()
		_ = s.bus.release()
	})
	return nil
}

// As exposes the underlying *gochannel.GoChannel.
func (s *subscriber) As(target any) bool { return asGoChannel(s.bus, target) }
