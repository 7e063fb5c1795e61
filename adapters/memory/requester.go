package memory

import (
	"context"
	"errors"
	"sync"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/internal/replies"
	"github.com/heraldkit/herald/internal/wm"
)

const (
	opRequest = "request to"
	opReply   = "reply to"
)

// requester is the memory bus's adapters.Requester: an inbox registered
// on the bus under a name of its own (the reply address), and a
// correlation table its requests wait in.
type requester struct {
	bus   *bus
	pub   *topic
	inbox string
	table *replies.Table
	once  sync.Once
}

// OpenRequester implements adapters.Driver.
func (driver) OpenRequester(_ context.Context, cfg herald.Config, _ adapters.Env) (adapters.Requester, error) {
	s, err := parse(cfg)
	if err != nil {
		return nil, err
	}
	b := acquire(s)
	r := &requester{bus: b, pub: &topic{bus: b, stop: make(chan struct{})}, inbox: "mem-inbox." + herald.NewID(), table: replies.New()}
	b.addInbox(r.inbox, r.table)
	acquire(s) // the reply side holds a reference of its own; the topic holds one
	return r, nil
}

// Request implements adapters.Requester: it fails fast with
// KindNoResponder when the topic has no group (nobody ever subscribed).
func (r *requester) Request(ctx context.Context, name string, m *herald.Message) (*herald.Message, error) {
	if len(r.bus.groups(name)) == 0 && name != "" {
		return nil, opError(opRequest, name, herald.KindNoResponder, errors.New("the topic has no subscriber"))
	}
	token := herald.NewID()
	wait, forget, ok := r.table.Add(token)
	defer forget()
	if !ok {
		return nil, closedError(opRequest, name)
	}
	req := wm.Copy(m)
	req.Metadata.Set(adapters.ReplyToHeader, r.inbox)
	req.Metadata.Set(adapters.CorrelationHeader, token)
	sent := make(chan error, 1)
	if err := r.pub.Send(ctx, name, req, adapters.SendOptions{}, func(err error) { sent <- err }); err != nil {
		return nil, err
	}
	if err := <-sent; err != nil { // the memory topic answers before Send returns
		return nil, err
	}
	res, ok := wait(ctx)
	switch {
	case !ok:
		return nil, closedError(opRequest, name)
	case res.Err != nil:
		return nil, res.Err
	}
	return res.Msg, nil
}

// Reply implements adapters.Requester: a reply to an inbox gone, or to
// a request no longer waiting, is dropped.
func (r *requester) Reply(_ context.Context, to adapters.ReplyAddress, m *herald.Message) error {
	if to.To == "" {
		return opError(opReply, to.To, herald.KindInvalid, errors.New("reply address is empty"))
	}
	if t := r.bus.inboxTable(to.To); t != nil {
		t.Deliver(to.Correlation, replies.Result{Msg: wm.Copy(m)})
	}
	return nil
}

// Close implements adapters.Requester.
func (r *requester) Close(ctx context.Context) error {
	r.once.Do(func() {
		r.bus.dropInbox(r.inbox)
		r.table.Close()
		_ = r.pub.Close(ctx)
		r.bus.release()
	})
	return nil
}

// As implements adapters.Requester: the bus has no client object.
func (r *requester) As(any) bool { return false }
