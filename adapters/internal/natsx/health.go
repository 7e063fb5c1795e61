package natsx

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// Health is one subscription's status. Lost reports a break with
// adapters.ReportStatus on the Subscribe context and logs it at warn level
// once per outage (later causes of the same outage are reported and
// logged at debug level); OK reports and logs the recovery once.
type Health struct {
	ctx   context.Context // the Subscribe context
	log   *slog.Logger
	pre   string // "herald/<scheme>"
	topic string
	group string

	mu     sync.Mutex
	broken bool
	cause  string
}

func (h *Health) Lost(cause error) {
	if cause == nil {
		return
	}
	err := fmt.Errorf("%s: subscription to %q: %w: %w", h.pre, h.topic, herald.ErrSubscriptionLost, cause)
	h.mu.Lock()
	first := !h.broken
	same := h.broken && h.cause == cause.Error()
	h.broken, h.cause = true, cause.Error()
	h.mu.Unlock()
	if same {
		return
	}
	if first {
		h.log.Warn(h.pre+": subscription lost; retrying", "topic", h.topic, "group", h.group, "err", cause)
	} else {
		h.log.Debug(h.pre+": subscription still lost", "topic", h.topic, "group", h.group, "err", cause)
	}
	adapters.ReportStatus(h.ctx, err)
}

func (h *Health) OK() {
	h.mu.Lock()
	was := h.broken
	h.broken, h.cause = false, ""
	h.mu.Unlock()
	if !was {
		return
	}
	h.log.Info(h.pre+": subscription receives again", "topic", h.topic, "group", h.group)
	adapters.ReportStatus(h.ctx, nil)
}

// NewHealth returns the status of the subscription to topic made with
// ctx (the Subscribe context), logging to log.
func NewHealth(ctx context.Context, log *slog.Logger, scheme, topic, group string) *Health {
	return &Health{ctx: ctx, log: log, pre: "herald/" + scheme, topic: topic, group: group}
}
