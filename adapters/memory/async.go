package memory

import (
	"context"
	"errors"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald/adapters"
)

// asyncWindow bounds the messages PublishAsync has taken and not yet
// queued for the groups.
const asyncWindow = 256

var _ adapters.AsyncPublisher = (*publisher)(nil)

// asyncReq is one message taken by PublishAsync.
type asyncReq struct {
	topic string
	msg   *message.Message
	done  func(error)
}

// PublishAsync implements adapters.AsyncPublisher: one goroutine per
// publisher publishes the taken messages in order (as PublishContext,
// bounded by the publisher's life) and calls done. At most 256 messages
// wait; the call blocks while they do, until ctx ends.
func (p *publisher) PublishAsync(ctx context.Context, topic string, msg *message.Message, done func(error)) error {
	if topic == "" {
		return opError(opPublish, topic, errors.New("topic is empty"))
	}
	p.amu.RLock()
	defer p.amu.RUnlock()
	if p.closed.Load() {
		return closedError(opPublish, topic)
	}
	if err := ctx.Err(); err != nil {
		return opError(opPublish, topic, err)
	}
	p.asyncOnce.Do(func() {
		p.aq = make(chan asyncReq, asyncWindow)
		p.asyncDone = make(chan struct{})
		go p.publishTaken()
	})
	select {
	case p.aq <- asyncReq{topic: topic, msg: msg, done: done}:
		return nil
	case <-ctx.Done():
		return opError(opPublish, topic, ctx.Err())
	case <-p.stop.Done():
		return closedError(opPublish, topic)
	}
}

// publishTaken publishes the taken messages until Close closes the queue;
// after Close, PublishContext fails them with ErrClosed.
func (p *publisher) publishTaken() {
	defer close(p.asyncDone)
	for r := range p.aq {
		r.done(p.PublishContext(p.stop, r.topic, r.msg))
	}
}

// closeAsync ends PublishAsync: callers still waiting for room return
// ErrClosed, and done gets ErrClosed for every message not yet published.
// It runs after stop is cancelled.
func (p *publisher) closeAsync() {
	p.amu.Lock() // waits for the PublishAsync calls under way
	defer p.amu.Unlock()
	started := true
	p.asyncOnce.Do(func() { started = false })
	if started {
		close(p.aq)
		<-p.asyncDone
	}
}
