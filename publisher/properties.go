package publisher

import (
	"fmt"

	"github.com/heraldkit/herald"
)

// checkProperties refuses a herald.Properties field the backend does not
// carry (adapters.Capabilities.Properties), or a negative TTL, naming the
// backend and the field.
func (p *Publisher) checkProperties(topic string, props herald.Properties) error {
	refuse := func(field, what string) error {
		return &herald.Error{Backend: p.cfg.Scheme, Op: "publish to", Topic: topic, Kind: herald.KindInvalid,
			Err: fmt.Errorf("herald.Properties.%s: %s", field, what)}
	}
	switch {
	case !props.Time.IsZero() && !p.props.Time:
		return refuse("Time", fmt.Sprintf("the %s backend carries no message timestamp; leave it zero", p.cfg.Scheme))
	case props.TTL < 0:
		return refuse("TTL", fmt.Sprintf("%v is negative; want a positive duration, or zero for no expiry", props.TTL))
	case props.TTL != 0 && !p.props.TTL:
		return refuse("TTL", fmt.Sprintf("the %s backend has no per-message expiry; leave it zero", p.cfg.Scheme))
	case props.Type != "" && !p.props.Type:
		return refuse("Type", fmt.Sprintf("the %s backend has no message type property; leave it empty (a metadata entry is a header on every backend)", p.cfg.Scheme))
	}
	return nil
}
