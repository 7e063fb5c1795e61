package publisher

import (
	"context"
	"fmt"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// PublishAt publishes msgs to topic for delivery at at: subscribers get
// them at at, never before, and no later than the backend's declared
// precision after (adapters.DelayCapabilities.Precision; docs/guarantees.md
// has each backend's). It returns nil only once the broker stored every
// message (durably on the backends that declare it); otherwise it returns
// as Publish does. Publish middleware runs as for Publish.
//
// A delivery time further than the backend's maximum delay from now, or
// any delivery time on a backend without delayed delivery (Kafka, core
// NATS, a Watermill bridge), is refused with a *herald.Error of
// herald.ErrInvalid naming the backend and its maximum, before anything
// is sent. A delivery time not after now is published at once, as
// Publish does, on the backends with delayed delivery; the zero time is
// refused (herald.ErrInvalid).
func (p *Publisher) PublishAt(ctx context.Context, topic string, at time.Time, msgs ...*herald.Message) error {
	if at.IsZero() {
		return &herald.Error{Backend: p.cfg.Scheme, Op: "publish to", Topic: topic, Kind: herald.KindInvalid,
			Err: fmt.Errorf("the delivery time is the zero time.Time; use Publish to publish at once")}
	}
	return p.publishAt(ctx, topic, at, time.Until(at), msgs)
}

// PublishAfter is PublishAt(ctx, topic, time.Now().Add(d), msgs...): the
// delay is counted from the call.
func (p *Publisher) PublishAfter(ctx context.Context, topic string, d time.Duration, msgs ...*herald.Message) error {
	return p.publishAt(ctx, topic, time.Now().Add(d), d, msgs)
}

// CheckDelay returns the error PublishAfter would return for delay d
// before sending anything (a backend without delayed delivery, or d past
// its maximum), or nil when the backend takes d: a service checks its
// configured delay at start instead of at its first publish.
func (p *Publisher) CheckDelay(d time.Duration) error {
	if d <= 0 {
		d = 1 // the backend must have delayed delivery at all
	}
	return p.checkDelay("", d)
}

// publishAt checks delay (the time from now to at) against the backend's
// Capabilities.Delay, then publishes through the path of Publish with at
// as the delivery time, or at once when delay <= 0.
func (p *Publisher) publishAt(ctx context.Context, topic string, at time.Time, delay time.Duration, msgs []*herald.Message) error {
	if err := p.checkDelay(topic, delay); err != nil {
		return err
	}
	if delay <= 0 {
		return p.Publish(ctx, topic, msgs...)
	}
	return p.publish(ctx, topic, adapters.SendOptions{At: at}, msgs)
}

// checkDelay refuses a delay the backend cannot honour.
func (p *Publisher) checkDelay(topic string, delay time.Duration) error {
	max := p.delay.Max
	switch {
	case max <= 0:
		return &herald.Error{Backend: p.cfg.Scheme, Op: "publish to", Topic: topic, Kind: herald.KindInvalid,
			Err: fmt.Errorf("delayed delivery is not supported by the %s backend (maximum delay 0); publish without a delivery time", p.cfg.Scheme)}
	case delay > max:
		return &herald.Error{Backend: p.cfg.Scheme, Op: "publish to", Topic: topic, Kind: herald.KindInvalid,
			Err: fmt.Errorf("delay %v is longer than the %s backend's maximum delay %v", delay.Round(time.Millisecond), p.cfg.Scheme, max)}
	}
	return nil
}
