package kafka

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// publishTimeout bounds a Watermill Publish (which has no context) while
// the broker cannot be reached. PublishContext is bounded by its context.
const publishTimeout = 60 * time.Second

// closeFlushTimeout bounds how long Close waits for the records already
// handed to the producer before it drops the connections.
const closeFlushTimeout = 5 * time.Second

// Publisher is the Watermill publisher the kafka adapter returns: a Sarama
// AsyncProducer, with the records watermill-kafka would write (see
// Marshaler), plus topic auto-creation. PublishContext and Publish return
// nil only once the broker acknowledged every message (as set by acks).
// It is safe for concurrent use.
type Publisher struct {
	guard    *netGuard
	client   sarama.Client
	producer sarama.AsyncProducer
	admin    *admin
	results  chan struct{} // closed when readResults has returned

	mu        sync.RWMutex // held shared while handing records to the producer, exclusively by Close
	closed    bool
	closing   chan struct{} // closed when Close begins: waits and retries stop
	closeOnce sync.Once
	closeErr  error
}

var (
	_ message.Publisher         = (*Publisher)(nil)
	_ adapters.ContextPublisher = (*Publisher)(nil)
)

func newPublisher(ctx context.Context, s settings) (*Publisher, error) {
	g := newNetGuard(10*time.Second, 0)
	client, err := connect(ctx, s, g, s.saramaConfig(g))
	if err != nil {
		g.abort()
		return nil, openError("publisher", s, err)
	}
	producer, err := sarama.NewAsyncProducerFromClient(client)
	if err != nil {
		_ = client.Close()
		g.abort()
		return nil, openError("publisher", s, err)
	}
	p := &Publisher{guard: g, client: client, producer: producer, results: make(chan struct{}), closing: make(chan struct{})}
	if p.admin, err = newAdmin(g.ctx, client, s); err != nil {
		_ = producer.Close()
		_ = client.Close()
		g.abort()
		return nil, openError("publisher", s, err)
	}
	go p.readResults()
	return p, nil
}

// delivery collects the results of one PublishContext call. Each record
// handed to the producer carries a *slot (ProducerMessage.Metadata); the
// result reader sends exactly one result per record to the buffered
// channel, so it never blocks, even after the caller gave up.
type delivery struct{ results chan result }

type slot struct {
	d *delivery
	i int // index of the message in the call
}

type result struct {
	i   int
	err error
}

// readResults is the producer's one reader: it hands every record's
// outcome to the call that sent it.
func (p *Publisher) readResults() {
	defer close(p.results)
	successes, errs := p.producer.Successes(), p.producer.Errors()
	for successes != nil || errs != nil {
		select {
		case m, ok := <-successes:
			if !ok {
				successes = nil
				continue
			}
			if s, ok := m.Metadata.(*slot); ok {
				s.d.results <- result{i: s.i}
			}
		case e, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			if s, ok := e.Msg.Metadata.(*slot); ok {
				s.d.results <- result{i: s.i, err: e.Err}
			}
		}
	}
}

// Publish implements Watermill's Publisher: PublishContext bounded by
// one minute (publishTimeout) while the broker cannot be reached.
func (p *Publisher) Publish(topic string, msgs ...*message.Message) error {
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	return p.PublishContext(ctx, topic, msgs...)
}

// PublishContext sends msgs to topic, creating the topic on first use, and
// returns once the broker acknowledged them all. The messages are sent
// together (Sarama batches them); only the ones that failed are sent again.
//
// While the broker cannot be reached (down, no partition leader) it waits
// and retries with backoff until ctx ends, then returns an error wrapping
// herald.ErrUnreachable and ctx.Err(). Errors that retrying cannot fix (a
// message over max_message_bytes, a refused authorization, a bad topic
// name) are returned at once. A retry may duplicate a record the broker
// had stored (at-least-once). It neither changes msgs nor starts a
// goroutine. After Close it returns an error wrapping herald.ErrClosed.
func (p *Publisher) PublishContext(ctx context.Context, topic string, msgs ...*message.Message) error {
	if p.isClosed() {
		return closedError("publish to", topic)
	}
	if err := validTopic(topic); err != nil {
		return opError("publish to", topic, err)
	}
	if len(msgs) == 0 {
		return nil
	}
	if err := p.ensure(ctx, topic); err != nil {
		return opError("publish to", topic, err)
	}
	d := &delivery{results: make(chan result, len(msgs))}
	todo := make([]int, len(msgs))
	for i := range todo {
		todo[i] = i
	}
	wait := 250 * time.Millisecond
	var last error // the last transient failure
	for {
		for _, i := range todo {
			if err := p.send(ctx, topic, msgs[i], &slot{d: d, i: i}); err != nil {
				return opError("publish to", topic, p.stopped(ctx, err, last))
			}
		}
		pending := len(todo)
		todo = todo[:0]
		for pending > 0 {
			select {
			case r := <-d.results:
				pending--
				switch {
				case r.err == nil:
				case p.isClosed():
					return opError("publish to", topic, p.stopped(ctx, herald.ErrClosed, r.err))
				case transient(r.err):
					todo, last = append(todo, r.i), r.err
				default:
					return opError("publish to", topic, r.err)
				}
			case <-ctx.Done():
				return opError("publish to", topic, ctxError(ctx, last))
			}
		}
		if len(todo) == 0 {
			return nil
		}
		if err := p.pause(ctx, wait); err != nil {
			return opError("publish to", topic, p.stopped(ctx, err, last))
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// ensure creates topic if needed, waiting and retrying while the broker
// cannot be reached, until ctx ends.
func (p *Publisher) ensure(ctx context.Context, topic string) error {
	wait := 250 * time.Millisecond
	for {
		err := p.admin.ensure(ctx, topic)
		if err != nil && (errors.Is(err, herald.ErrClosed) || p.isClosed()) {
			return herald.ErrClosed // Close cut the attempt off
		}
		if err == nil || !transient(err) || ctx.Err() != nil {
			return err
		}
		if perr := p.pause(ctx, wait); perr != nil {
			return p.stopped(ctx, perr, err)
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// send hands one record to the producer.
func (p *Publisher) send(ctx context.Context, topic string, m *message.Message, s *slot) error {
	rec, _ := Marshaler{}.Marshal(topic, m)
	rec.Metadata = s
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return herald.ErrClosed
	}
	select {
	case p.producer.Input() <- rec:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-p.closing:
		return herald.ErrClosed
	}
}

// pause waits d, unless ctx ends or Close begins.
func (p *Publisher) pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-p.closing:
		return herald.ErrClosed
	}
}

// stopped is the error of a wait that ctx or Close ended (err), after the
// transient failure last.
func (p *Publisher) stopped(ctx context.Context, err, last error) error {
	if errors.Is(err, herald.ErrClosed) {
		if last != nil {
			return errors.Join(herald.ErrClosed, last)
		}
		return herald.ErrClosed
	}
	if ctx.Err() != nil {
		return ctxError(ctx, last)
	}
	return err
}

func (p *Publisher) isClosed() bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.closed
}

// Close flushes the records already handed to the producer (for up to 5
// seconds; then it drops the connections and their publishes fail) and
// closes the producer and the connections. Publishes waiting for the
// broker stop waiting. Close is idempotent.
func (p *Publisher) Close() error {
	p.closeOnce.Do(func() {
		close(p.closing)
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		p.producer.AsyncClose()
		t := time.NewTimer(closeFlushTimeout)
		select {
		case <-p.results:
		case <-t.C:
			p.guard.abort() // Sarama's retries now fail at once
			<-p.results
		}
		t.Stop()
		p.guard.abort()
		p.closeErr = p.admin.close() // also closes the client
		if errors.Is(p.closeErr, sarama.ErrClosedClient) {
			p.closeErr = nil
		}
	})
	return p.closeErr
}

// As gives access to the objects underneath, in the style of Go CDK. It
// returns true and sets *target when target is one of:
//
//   - *sarama.AsyncProducer (the producer PublishContext uses; its
//     Successes and Errors channels are the Publisher's: do not read them)
//   - *sarama.Client (the publisher's metadata and admin client)
//   - *sarama.ClusterAdmin (the admin used to create topics)
//
// Closing them is the Publisher's job.
func (p *Publisher) As(target any) bool {
	switch t := target.(type) {
	case *sarama.AsyncProducer:
		*t = p.producer
	case *sarama.Client:
		*t = p.client
	case *sarama.ClusterAdmin:
		*t = p.admin.ca
	default:
		return false
	}
	return true
}
