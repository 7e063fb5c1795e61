package wmbridge

import (
	"errors"

	"github.com/heraldkit/herald"
)

var (
	errNoPublisher  = errors.New("the Watermill backend has no publisher (Backend.NewPublisher is nil)")
	errNoSubscriber = errors.New("the Watermill backend has no subscriber (Backend.NewSubscriber is nil)")
	errNoRequester  = errors.New("a bridged Watermill backend has no request/reply: no reply channel shared by requests (use mem, embedded, nats, amqp or kafka)")
	errChannelEnded = errors.New("the Watermill subscriber closed its channel")
)

// wrap turns an error of the Watermill Pub/Sub into a *herald.Error: of
// the kind Backend.ErrorKind gives it, else of kind def.
func (d *driver) wrap(op, topic string, def herald.Kind, err error) error {
	kind := def
	if d.b.ErrorKind != nil {
		if k := d.b.ErrorKind(err); k != herald.KindOther {
			kind = k
		}
	}
	return &herald.Error{Backend: d.b.Name, Op: op, Topic: topic, Kind: kind, Err: err}
}

// closedError is the error of an operation after Close.
func (d *driver) closedError(op, topic string) error {
	return &herald.Error{Backend: d.b.Name, Op: op, Topic: topic, Kind: herald.KindClosed}
}
