package heraldtest

import (
	"context"
	"errors"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// requester is the harness's adapters.Requester: an inbox on the bus
// under a reply address of its own, and a correlation table of its own
// (token to the request waiting), kept under the bus lock with
// everything else. (The drivers' table, adapters/internal/replies, is
// internal to the adapters tree and not importable from here.)
type requester struct {
	bus   *bus
	inbox string
	done  chan struct{} // closed by shut

	// guarded by bus.mu
	closed  bool
	waiting map[string]chan *herald.Message
}

// OpenRequester implements adapters.Driver: a requester with an inbox
// on the harness.
func (driver) OpenRequester(_ context.Context, cfg herald.Config, _ adapters.Env) (adapters.Requester, error) {
	b, err := parse(cfg)
	if err != nil {
		return nil, err
	}
	r := &requester{bus: b, inbox: "heraldtest-inbox." + herald.NewID(), done: make(chan struct{}),
		waiting: map[string]chan *herald.Message{}}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, &herald.Error{Backend: Scheme, Op: "open requester", Kind: herald.KindClosed, Err: errors.New("the harness is closed")}
	}
	b.inboxes[r.inbox] = r
	return r, nil
}

// Request implements adapters.Requester: the request is published to
// topic as Send publishes (so it is among Published, faults and outages
// fail it), unless no group subscribes to topic: then it fails at once
// with KindNoResponder. It is recorded (Harness.Requests) with its reply
// or the error it ended with.
func (r *requester) Request(ctx context.Context, name string, m *herald.Message) (*herald.Message, error) {
	if name == "" {
		return nil, opError(opRequest, name, herald.KindInvalid, errors.New("topic is empty"))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	token := herald.NewID()
	req := clone(m)
	req.Metadata.Set(adapters.ReplyToHeader, r.inbox)
	req.Metadata.Set(adapters.CorrelationHeader, token)
	reply := make(chan *herald.Message, 1)
	b := r.bus
	b.mu.Lock()
	if r.closed {
		b.mu.Unlock()
		return nil, opError(opRequest, name, herald.KindClosed, nil)
	}
	rec := &requestRecord{topic: name, msg: clone(req), at: b.clock.Now()}
	b.rec.requests[name] = append(b.rec.requests[name], rec)
	b.rec.byToken[token] = rec
	var err error
	if !b.closed && !b.down && len(b.topics[name]) == 0 {
		err = opError(opRequest, name, herald.KindNoResponder, errors.New("no group subscribes to the topic"))
	} else {
		err = b.publish(name, req, time.Time{}, herald.Properties{})
	}
	if err != nil {
		rec.err = err
		b.mu.Unlock()
		return nil, err
	}
	r.waiting[token] = reply
	b.mu.Unlock()

	select {
	case rep := <-reply:
		return rep, nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-r.done:
		err = opError(opRequest, name, herald.KindClosed, nil)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(r.waiting, token)
	select {
	case rep := <-reply: // it came meanwhile
		return rep, nil
	default:
	}
	rec.err = err
	return nil, err
}

// Reply implements adapters.Requester: m goes to the request waiting for
// to's correlation token in to's inbox; a reply to an inbox closed, or to
// a request no longer waiting, is dropped (and still recorded with its
// request). While the harness is down it fails with KindUnreachable.
func (r *requester) Reply(_ context.Context, to adapters.ReplyAddress, m *herald.Message) error {
	if to.To == "" {
		return opError(opReply, to.To, herald.KindInvalid, errors.New("reply address is empty"))
	}
	b := r.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case r.closed:
		return opError(opReply, to.To, herald.KindClosed, nil)
	case b.closed:
		return opError(opReply, to.To, herald.KindClosed, errors.New("the harness is closed"))
	case b.down:
		return opError(opReply, to.To, herald.KindUnreachable, b.downCause)
	}
	if rec := b.rec.byToken[to.Correlation]; rec != nil {
		rec.replies++
		if rec.reply == nil {
			rec.reply, rec.repliedAt = clone(m), b.clock.Now()
		}
	}
	if in := b.inboxes[to.To]; in != nil {
		if ch := in.waiting[to.Correlation]; ch != nil {
			delete(in.waiting, to.Correlation)
			ch <- clone(m) // buffered 1, removed: at most one send
		}
	}
	return nil
}

// Close implements adapters.Requester: requests waiting fail with
// KindClosed.
func (r *requester) Close(context.Context) error {
	b := r.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	r.shut()
	return nil
}

// shut closes r and removes its inbox; b.mu is held.
func (r *requester) shut() {
	if r.closed {
		return
	}
	r.closed = true
	close(r.done)
	delete(r.bus.inboxes, r.inbox)
}

// As implements adapters.Requester: the harness has no client object.
func (r *requester) As(any) bool { return false }
