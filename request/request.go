package request

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/internal/errstyle"
)

// CallOption configures one request.
type CallOption func(*call)

type call struct {
	timeout time.Duration
	key     string
	meta    map[string]string
}

// Timeout bounds this request (instead of the client's timeout); the
// context's deadline still applies when it is earlier. d <= 0 is ignored.
func Timeout(d time.Duration) CallOption { return func(c *call) { c.timeout = d } }

// Key sets the request's ordering key (herald.SetKey).
func Key(k string) CallOption { return func(c *call) { c.key = k } }

// Header sets a metadata entry on the request.
func Header(k, v string) CallOption {
	return func(c *call) {
		if c.meta == nil {
			c.meta = map[string]string{}
		}
		c.meta[k] = v
	}
}

// Request encodes req as JSON, sends it to topic with its deadline
// (DeadlineHeader) and waits for the reply, decoded into a Resp. The
// deadline is the earlier of ctx's and now plus the client's timeout (or
// Timeout). See the package documentation for the errors.
func Request[Req, Resp any](ctx context.Context, c *Client, topic string, req Req, opts ...CallOption) (Resp, error) {
	var zero Resp
	m, err := herald.NewJSONMessage(req)
	if err != nil {
		return zero, err
	}
	reply, err := c.RequestMsg(ctx, topic, m, opts...)
	if err != nil {
		return zero, err
	}
	var v Resp
	if err := json.Unmarshal(reply.Payload, &v); err != nil {
		return zero, fmt.Errorf("herald: request to %q: decode the reply into %T: %w", topic, v, err)
	}
	return v, nil
}

// RequestMsg sends m to topic and returns the reply's message, with the
// errors of Request (a reply carrying ErrorHeader is a *RemoteError). m
// is not changed.
func (c *Client) RequestMsg(ctx context.Context, topic string, m *herald.Message, opts ...CallOption) (*herald.Message, error) {
	if c.closed.Load() {
		return nil, &herald.Error{Backend: c.scheme, Op: "request to", Topic: topic, Kind: herald.KindClosed}
	}
	if topic == "" {
		return nil, &herald.Error{Backend: c.scheme, Op: "request", Kind: herald.KindInvalid, Err: errors.New("topic is empty")}
	}
	cl := call{timeout: c.timeout}
	for _, o := range opts {
		if o != nil {
			o(&cl)
		}
	}
	if cl.timeout <= 0 {
		cl.timeout = c.timeout
	}
	deadline := time.Now().Add(cl.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	rctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	req := m.Copy()
	// A request of its own ID: sending one message twice is two
	// requests, never a duplicate a broker drops (JetStream Nats-Msg-Id).
	req.UUID = herald.NewID()
	for k, v := range cl.meta {
		req.Metadata.Set(k, v)
	}
	if cl.key != "" {
		herald.SetKey(req, cl.key)
	}
	setDeadline(req, deadline)
	start := time.Now()
	reply, err := c.req.Request(rctx, topic, req)
	if err != nil {
		return nil, c.requestError(ctx, rctx, topic, start, err)
	}
	if msg, failed := reply.Metadata[ErrorHeader]; failed {
		return nil, &RemoteError{Topic: topic, Message: msg}
	}
	return reply, nil
}

// requestError maps what the requester returned: the request's own
// deadline is ErrTimeout; the caller's cancellation is passed on; the
// rest keeps its kind (ErrNoResponder, ErrClosed...).
func (c *Client) requestError(ctx, rctx context.Context, topic string, start time.Time, err error) error {
	switch {
	case ctx.Err() == context.Canceled:
		return errstyle.Errorf(c.scheme, "request to", topic, ctx.Err())
	case rctx.Err() == context.DeadlineExceeded && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)):
		return fmt.Errorf("herald/%s: request to %q: %w (waited %v: %w)", c.scheme, topic, ErrTimeout, time.Since(start).Round(time.Millisecond), context.DeadlineExceeded)
	}
	return errstyle.Wrap(err, c.scheme, "request to", topic)
}
