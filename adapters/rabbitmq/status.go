package rabbitmq

import (
	"context"
	"fmt"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// status tracks one subscription's health: it reports a loss with
// adapters.ReportStatus on the Subscribe context each time a recovery
// attempt fails (with the latest cause) and logs it at warn level once
// per outage; the recovery is reported with nil and logged at info level.
type status struct {
	sub   *subscriber
	ctx   context.Context
	topic string
	down  bool
}

func (st *status) lost(cause error) {
	if cause == nil {
		cause = errNotConnected
	}
	err := opError(st.sub.s.scheme, opSubscribe, st.topic, fmt.Errorf("%w: %w", herald.ErrSubscriptionLost, cause))
	if !st.down {
		st.down = true
		st.sub.conn.log.Warn(fmt.Sprintf("herald/%s: subscription to %q lost; retrying", st.sub.s.scheme, st.topic),
			"topic", st.topic, "cause", cause.Error())
	}
	adapters.ReportStatus(st.ctx, err)
}

func (st *status) ok() {
	if !st.down {
		return
	}
	st.down = false
	st.sub.conn.log.Info(fmt.Sprintf("herald/%s: subscription to %q receiving again", st.sub.s.scheme, st.topic), "topic", st.topic)
	adapters.ReportStatus(st.ctx, nil)
}
