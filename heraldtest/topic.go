package heraldtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/middleware"
)

// topic is the harness's adapters.Topic.
type topic struct {
	bus    *bus
	mu     sync.Mutex
	closed bool
}

// Send implements adapters.Topic: it stores m and queues a copy for every
// group of the topic under the bus lock, then calls done, in the
// caller's goroutine. The queues have no limit: Send never waits. While
// the harness is down it fails with KindUnreachable; a fault (FailPublish)
// fails it with its kind.
func (t *topic) Send(ctx context.Context, name string, m *herald.Message, done func(error)) error {
	t.mu.Lock()
	closed := t.closed
	t.mu.Unlock()
	if closed {
		return opError(opPublish, name, herald.KindClosed, nil)
	}
	if name == "" {
		return opError(opPublish, name, herald.KindInvalid, errors.New("topic is empty"))
	}
	if err := ctx.Err(); err != nil {
		return opError(opPublish, name, herald.KindUnreachable, err)
	}
	b := t.bus
	b.mu.Lock()
	var err error
	switch {
	case b.closed:
		err = opError(opPublish, name, herald.KindClosed, errors.New("the harness is closed"))
	case b.down:
		err = opError(opPublish, name, herald.KindUnreachable, b.downCause)
	default:
		b.sends++
		if f := b.fault(name); f != nil {
			err = opError(opPublish, name, f.kind, fmt.Errorf("fault injected by FailPublish: publish %d to %s", f.n, f.what()))
			if f.kind == herald.KindOutcomeUnknown {
				b.store(name, m) // written, not answered: the broker has it
			}
			break
		}
		b.store(name, m)
	}
	b.mu.Unlock()
	done(err)
	return nil
}

// store records m as published to name and queues it; b.mu is held.
func (b *bus) store(name string, m *herald.Message) {
	b.rec.published[name] = append(b.rec.published[name], clone(m))
	if orig := m.Metadata.Get(middleware.DLQOriginalIDHeader); orig != "" {
		b.markDead(m.Metadata.Get(middleware.DLQTopicHeader), m.Metadata.Get(middleware.DLQGroupHeader), orig)
	}
	b.put(name, m)
}

// SendAt refuses delayed delivery, which the harness does not have yet
// (its Capabilities declare none, so the publisher refuses a delay before
// it calls SendAt). When it comes, a delayed message is held on the
// harness's Clock as a redelivery is, and Drain counts it and jumps to
// its time.
func (t *topic) SendAt(_ context.Context, name string, _ *herald.Message, _ time.Time, _ func(error)) error {
	return opError(opPublish, name, herald.KindInvalid, errors.New("the test harness has no delayed delivery yet"))
}

// Close implements adapters.Topic.
func (t *topic) Close(context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	return nil
}

// As implements adapters.Topic: the harness has no client object.
func (t *topic) As(any) bool { return false }
