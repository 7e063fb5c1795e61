package request

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// Responder returns a herald.Handler that answers requests with fn: it
// decodes the payload into a Req (JSON), calls fn with ctx bounded by the
// request's deadline, and sends fn's result, encoded as JSON, to the
// request's reply address over c. Subscribe it with subscriber.Subscribe
// like any handler; middleware, groups and windows apply.
//
// Settling:
//   - a request answered, with fn's result or its error (which reaches
//     the requester as a *RemoteError), is acknowledged;
//   - a request whose deadline passed before it arrived, before fn
//     returned or before its reply was sent is dropped (acknowledged,
//     nothing replied: its requester no longer waits; see
//     Client.Dropped);
//   - when fn returns its context's error because the subscriber is
//     stopping (cancelled, not the deadline), nothing is replied and the
//     error is the handler's: the request is handled again;
//   - a payload that does not decode is answered with the decode error;
//   - a message without a reply address is a herald.Permanent error (not
//     a request);
//   - a reply that could not be sent otherwise is the handler's error:
//     the request is redelivered (by the subscriber's policy) and fn may
//     run again.
func Responder[Req, Resp any](c *Client, fn func(ctx context.Context, req Req) (Resp, error)) herald.Handler {
	return ResponderMsg(c, func(ctx context.Context, m *herald.Message) (*herald.Message, error) {
		var req Req
		if err := json.Unmarshal(m.Payload, &req); err != nil {
			return nil, fmt.Errorf("decode the request into %T: %w", req, err)
		}
		resp, err := fn(ctx, req)
		if err != nil {
			return nil, err
		}
		return herald.NewJSONMessage(resp)
	})
}

// ResponderMsg is Responder on messages: fn returns the reply's message,
// or an error whose text the requester gets as a *RemoteError.
func ResponderMsg(c *Client, fn func(ctx context.Context, m *herald.Message) (*herald.Message, error)) herald.Handler {
	return func(ctx context.Context, m *herald.Message) error {
		to, ok := adapters.ReplyAddressOf(m)
		if !ok {
			return herald.Permanent(fmt.Errorf("herald: message %s is not a request: it has no %s header", m.UUID, adapters.ReplyToHeader))
		}
		if d, ok := deadlineOf(m); ok {
			if !time.Now().Before(d) {
				c.dropped.Add(1)
				return nil
			}
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, d)
			defer cancel()
		}
		reply, err := fn(ctx, m)
		if err != nil {
			if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
				if _, has := deadlineOf(m); has && errors.Is(cerr, context.DeadlineExceeded) {
					c.dropped.Add(1) // the requester no longer waits
					return nil
				}
				// The subscriber is stopping: not answered, so handled
				// again (another responder of the group may take it).
				return err
			}
			reply = herald.NewMessage(nil)
			reply.Metadata.Set(ErrorHeader, err.Error())
		}
		if reply == nil {
			reply = herald.NewMessage(nil)
		}
		if err := c.req.Reply(ctx, to, reply); err != nil {
			if _, has := deadlineOf(m); has && ctx.Err() != nil {
				// The deadline passed while replying: the requester
				// no longer waits, handling it again cannot help.
				c.dropped.Add(1)
				return nil
			}
			return fmt.Errorf("herald: reply to request %s: %w", m.UUID, err)
		}
		return nil
	}
}
