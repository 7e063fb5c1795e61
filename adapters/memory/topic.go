package memory

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/internal/wm"
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
//
// With o.At the bus holds a copy of m until o.At (on its clock) and then
// queues it for every group the topic has then; done is called at once.
// Messages with equal times are delivered in the order sent. The held
// messages live in the process and end with the bus (not durable). The
// bus carries no herald.Properties: any is refused.
func (t *topic) Send(ctx context.Context, name string, m *herald.Message, o adapters.SendOptions, done func(error)) error {
	if err := t.check(ctx, name); err != nil {
		return err
	}
	if !o.Properties.IsZero() {
		return opError(opPublish, name, herald.KindInvalid, errors.New("the memory bus carries no broker properties (herald.Properties): metadata entries are its headers"))
	}
	if !o.At.IsZero() {
		t.bus.delay.add(name, wm.Copy(m), o.At)
		done(nil)
		return nil
	}
	groups := t.bus.groups(name)
	for i, g := range groups {
		if err := g.put(ctx, t.stop, wm.Copy(m)); err != nil {
			switch {
			case i > 0:
				// The groups before took it: publishing it again
				// duplicates it there.
				done(opError(opPublish, name, herald.KindOutcomeUnknown, fmt.Errorf("stored for %d of %d groups, then a group's queue stayed full or the bus closed: %w", i, len(groups), err)))
			case errors.Is(err, herald.ErrClosed):
				done(closedError(opPublish, name))
			default:
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

// check refuses a send to name: the topic closed, no name, ctx ended.
func (t *topic) check(ctx context.Context, name string) error {
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
	return nil
}
