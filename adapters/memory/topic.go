package memory

import (
	"context"
	"errors"
	"sync"

	"github.com/heraldkit/herald"
)

// topic is the memory bus's adapters.Topic.
type topic struct {
	bus  *bus
	once sync.Once
	stop chan struct{} // closed by Close
}

// Send implements adapters.Topic: it queues a copy of m for every group
// of the topic, in the caller's goroutine, waiting while a group's queue
// is full until ctx ends, and then calls done. Messages of one caller
// keep their order.
func (t *topic) Send(ctx context.Context, name string, m *herald.Message, done func(error)) error {
	select {
	case <-t.stop:
		return closedError(opPublish, name)
	default:
	}
	if name == "" {
		return opError(opPublish, name, herald.KindInvalid, errors.New("topic is empty"))
	}
	if err := ctx.Err(); err != nil {
		return opError(opPublish, name, herald.KindUnreachable, err)
	}
	for _, g := range t.bus.groups(name) {
		if err := g.put(ctx, t.stop, m.Copy()); err != nil {
			if errors.Is(err, herald.ErrClosed) {
				done(closedError(opPublish, name))
			} else {
				done(opError(opPublish, name, herald.KindUnreachable, errors.New("a group's queue stayed full (no subscriber takes its messages): "+err.Error())))
			}
			return nil
		}
	}
	done(nil)
	return nil
}

// Close implements adapters.Topic; Sends waiting for room fail.
func (t *topic) Close(context.Context) error {
	t.once.Do(func() {
		close(t.stop)
		t.bus.release()
	})
	return nil
}

// As implements adapters.Topic: the bus has no client object.
func (t *topic) As(any) bool { return false }
