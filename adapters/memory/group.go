package memory

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald/adapters"
)

// group is one consumer group on one topic: a single gochannel
// subscription feeding a queue that the group's members compete for.
type group struct {
	queue   chan *message.Message
	members int
	cancel  context.CancelFunc
	done    chan struct{}

	mu    sync.Mutex
	ended bool
	held  map[*heldMsg]struct{} // nacked messages waiting for their delay
}

// heldMsg is a nacked message waiting for its redelivery delay.
type heldMsg struct{ t *time.Timer }

type subscriber struct {
	bus     *bus
	group   string
	private bool

	mu      sync.Mutex
	closed  bool
	stop    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
	streams map[*memStream]struct{}
}

// join adds a member to the group k, starting the group's pump on the
// first member.
func (b *bus) join(k groupKey) (*group, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if g := b.groups[k]; g != nil {
		g.members++
		return g, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	in, err := b.gc.Subscribe(ctx, k.topic)
	if err != nil {
		cancel()
		return nil, err
	}
	g := &group{queue: make(chan *message.Message, b.buffer), members: 1, cancel: cancel, done: make(chan struct{}), held: map[*heldMsg]struct{}{}}
	b.groups[k] = g
	go g.pump(in)
	return g, nil
}

// leave removes a member; the last one ends the group, dropping the
// messages it holds (the bus is not durable).
func (b *bus) leave(k groupKey, g *group) {
	b.mu.Lock()
	defer b.mu.Unlock()
	g.members--
	if g.members == 0 {
		delete(b.groups, k)
		g.cancel()
		close(g.done)
		g.mu.Lock()
		g.ended = true
		for h := range g.held {
			h.t.Stop()
		}
		g.held = nil
		g.mu.Unlock()
	}
}

// pump moves messages from the gochannel subscription into the group's
// queue, acking each once it is queued. A message whose publish context
// ended while the queue was full is dropped and the publisher told.
func (g *group) pump(in <-chan *message.Message) {
	for msg := range in {
		select {
		case g.queue <- msg.Copy():
			msg.Ack()
		case <-msg.Context().Done():
			if d, ok := msg.Context().Value(dropKey{}).(interface{ Store(bool) }); ok {
				d.Store(true)
			}
			msg.Ack() // the publish gave up; PublishContext reports it
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

// requeueNow puts a nacked message back at the end of the queue, from a
// goroutine only when the queue is full.
func (g *group) requeueNow(msg *message.Message) {
	c := msg.Copy()
	select {
	case g.queue <- c:
	default:
		go g.requeue(msg)
	}
}

// requeueAfter holds a nacked message for d, without blocking the group's
// other messages, then puts it back at the end of the queue. Held
// messages are dropped when the group ends.
func (g *group) requeueAfter(msg *message.Message, d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ended {
		return
	}
	h := &heldMsg{}
	h.t = time.AfterFunc(d, func() {
		g.mu.Lock()
		delete(g.held, h)
		g.mu.Unlock()
		g.requeue(msg)
	})
	g.held[h] = struct{}{}
}

func (s *subscriber) key(topic string) groupKey {
	return groupKey{topic: topic, group: s.group, private: s.private}
}

func (s *subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	if topic == "" {
		return nil, opError(opSubscribe, topic, errors.New("topic is empty"))
	}
	if err := ctx.Err(); err != nil {
		return nil, opError(opSubscribe, topic, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, closedError(opSubscribe, topic)
	}
	if s.stop == nil {
		s.stop = make(chan struct{})
	}
	k := s.key(topic)
	g, err := s.bus.join(k)
	if err != nil {
		return nil, opError(opSubscribe, topic, err)
	}
	out := make(chan *message.Message)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(out)
		defer s.bus.leave(k, g)
		s.member(ctx, g, out)
	}()
	return out, nil
}

// SubscribeInitialize does nothing on the memory bus (a group exists
// while it has subscribers), except fail after Close.
func (s *subscriber) SubscribeInitialize(topic string) error {
	return s.SubscribeInitializeContext(context.Background(), topic)
}

// SubscribeInitializeContext is SubscribeInitialize.
func (s *subscriber) SubscribeInitializeContext(_ context.Context, topic string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return closedError(opPrepare, topic)
	}
	if topic == "" {
		return opError(opPrepare, topic, errors.New("topic is empty"))
	}
	return nil
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
				g.requeueAfter(msg, d)
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
		streams := make([]*memStream, 0, len(s.streams))
		for st := range s.streams {
			streams = append(streams, st)
		}
		s.mu.Unlock()
		for _, st := range streams {
			_ = st.Close(context.Background())
		}
		s.wg.Wait()
		_ = s.bus.release()
	})
	return nil
}

// As exposes the underlying *gochannel.GoChannel.
func (s *subscriber) As(target any) bool { return asGoChannel(s.bus, target) }
