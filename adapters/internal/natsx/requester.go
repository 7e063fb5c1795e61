package natsx

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/internal/replies"
)

const (
	opRequest = "request to"
	opReply   = "reply to"
)

// Requester is the NATS adapters.Requester: one subscription to a
// multiplexed inbox (_INBOX.<nuid>.*) per requester, as nats.go's own
// nc.Request does; a request's reply subject is the inbox plus a token of
// its own, which correlates the reply.
//
// Core NATS publishes the request with that reply subject (and the
// herald-reply-to header), so the server answers a request nobody
// subscribes to with its no-responders status (503): Request fails at
// once with KindNoResponder.
//
// JetStream publishes the request into the topic's stream through the
// Topic (it is stored, PubAck and all) and carries the reply address
// only in the herald-reply-to header, never as the NATS reply subject:
// the stream's PubAck goes to the Topic's own reply subject, not to the
// inbox, and the responder, a JetStream consumer, replies to the header's
// address with a core publish. A stream always listens, so JetStream
// cannot tell that nobody responds: such a request waits for its
// deadline. A core request to a subject a stream captures gets the
// stream's PubAck on the inbox; the inbox drops it (a message without the
// correlation header that decodes as a PubAck) and keeps waiting.
type Requester struct {
	nc     *nats.Conn
	scheme string
	prefix string // "_INBOX.<nuid>."
	sub    *nats.Subscription
	table  *replies.Table
	m      Marshaler
	topic  *Topic // JetStream; nil on core NATS
	as     func(any) bool
	closed atomic.Bool
	once   sync.Once
	onEnd  func()
}

// NewRequester opens the inbox subscription on nc, which it owns (Close
// closes it). js is the JetStream topic requests are published through,
// nil for core NATS (then o.OnClose runs at Close; a topic runs its own).
func NewRequester(nc *nats.Conn, js *Topic, o Options) (*Requester, error) {
	o.defaults()
	r := &Requester{nc: nc, scheme: o.Scheme, prefix: nc.NewInbox() + ".", table: replies.New(), topic: js, as: o.As}
	if js == nil {
		r.onEnd = o.OnClose
	}
	sub, err := nc.Subscribe(r.prefix+"*", r.deliver)
	if err != nil {
		return nil, Error(r.scheme, "open requester", "", Kind(err), err)
	}
	_ = sub.SetPendingLimits(-1, -1) // replies are bounded by the requests in flight
	r.sub = sub
	if err := nc.Flush(); err != nil { // the inbox exists before the first request
		_ = sub.Unsubscribe()
		return nil, Error(r.scheme, "open requester", "", Kind(err), err)
	}
	return r, nil
}

// deliver is the inbox's callback: it hands each reply to its request.
func (r *Requester) deliver(nm *nats.Msg) {
	token := nm.Subject[len(r.prefix):]
	if nm.Header.Get("Status") == "503" && len(nm.Data) == 0 {
		r.table.Deliver(token, replies.Result{Err: errNoResponders})
		return
	}
	if nm.Header.Get(adapters.CorrelationHeader) == "" && isPubAck(nm.Data) {
		return // a stream captured a core request: its PubAck is no reply
	}
	msg, _ := r.m.Unmarshal(nm)
	r.table.Deliver(token, replies.Result{Msg: msg})
}

var errNoResponders = errors.New("no responders: the server knows no subscriber of the subject")

// isPubAck reports whether data is a JetStream publish acknowledgement.
func isPubAck(data []byte) bool {
	if len(data) == 0 || data[0] != '{' {
		return false
	}
	var ack struct {
		Stream string          `json:"stream"`
		Seq    uint64          `json:"seq"`
		Error  json.RawMessage `json:"error"`
	}
	return json.Unmarshal(data, &ack) == nil && (ack.Stream != "" || len(ack.Error) > 0)
}

// Request implements adapters.Requester.
func (r *Requester) Request(ctx context.Context, topic string, m *herald.Message) (*herald.Message, error) {
	if r.closed.Load() {
		return nil, closedError(r.scheme, opRequest, topic)
	}
	if err := CheckTopic(topic); err != nil {
		return nil, Error(r.scheme, opRequest, topic, herald.KindInvalid, err)
	}
	token := nats.NewInbox()[len(nats.InboxPrefix):] // a nuid
	wait, forget, ok := r.table.Add(token)
	defer forget()
	if !ok {
		return nil, closedError(r.scheme, opRequest, topic)
	}
	req := m.Copy()
	reply := r.prefix + token
	req.Metadata.Set(adapters.ReplyToHeader, reply)
	req.Metadata.Set(adapters.CorrelationHeader, token)
	if err := r.send(ctx, topic, req, reply); err != nil {
		return nil, err
	}
	res, ok := wait(ctx)
	switch {
	case !ok:
		return nil, closedError(r.scheme, opRequest, topic)
	case errors.Is(res.Err, errNoResponders):
		return nil, Error(r.scheme, opRequest, topic, herald.KindNoResponder, res.Err)
	case res.Err != nil:
		return nil, res.Err
	}
	return res.Msg, nil
}

// send publishes the request: into the stream (JetStream, waiting for
// its PubAck), or as a core message with reply as its reply subject.
func (r *Requester) send(ctx context.Context, topic string, req *herald.Message, reply string) error {
	if r.topic != nil {
		done := make(chan error, 1)
		if err := r.topic.Send(ctx, topic, req, adapters.SendOptions{}, func(err error) { done <- err }); err != nil {
			return err
		}
		select {
		case err := <-done:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	nm, _ := r.m.Marshal(topic, req)
	nm.Reply = reply
	if err := r.nc.PublishMsg(nm); err != nil {
		return Error(r.scheme, opRequest, topic, Kind(err), err)
	}
	return nil
}

// Reply implements adapters.Requester: a core publish to the reply
// subject, with the correlation header.
func (r *Requester) Reply(_ context.Context, to adapters.ReplyAddress, m *herald.Message) error {
	if r.closed.Load() {
		return closedError(r.scheme, opReply, to.To)
	}
	if to.To == "" || strings.ContainsAny(to.To, " \t\r\n") {
		return Error(r.scheme, opReply, to.To, herald.KindInvalid, errors.New("reply address is not a NATS subject"))
	}
	rep := m
	if to.Correlation != "" {
		rep = m.Copy()
		rep.Metadata.Set(adapters.CorrelationHeader, to.Correlation)
	}
	nm, _ := r.m.Marshal(to.To, rep)
	if err := r.nc.PublishMsg(nm); err != nil {
		return Error(r.scheme, opReply, to.To, Kind(err), err)
	}
	return nil
}

// Close implements adapters.Requester.
func (r *Requester) Close(ctx context.Context) error {
	var err error
	r.once.Do(func() {
		r.closed.Store(true)
		_ = r.sub.Unsubscribe()
		r.table.Close()
		if r.topic != nil {
			err = r.topic.Close(ctx)
			return
		}
		r.nc.Close()
		if r.onEnd != nil {
			r.onEnd()
		}
	})
	return err
}

// As implements adapters.Requester: *nats.Conn.
func (r *Requester) As(target any) bool {
	if p, ok := target.(**nats.Conn); ok {
		*p = r.nc
		return true
	}
	return r.as != nil && r.as(target)
}

var _ adapters.Requester = (*Requester)(nil)
