package main

import (
	"context"
	"sync"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/publisher"
)

// healthCheck probes the broker by publishing a small message to its own
// topic and waiting for the acknowledgement: the same path as an order, so
// "reachable" means publishing works (connection, credentials, permission).
// A result is reused for cacheFor, so frequent probes (several replicas,
// load balancers) cost one publish per interval.
type healthCheck struct {
	pub      *publisher.Publisher
	topic    string
	timeout  time.Duration
	cacheFor time.Duration

	mu      sync.Mutex
	checked time.Time
	last    error
}

// check returns nil when the broker acknowledged a probe within the
// timeout, or when the last probe did so less than cacheFor ago.
func (h *healthCheck) check(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.checked.IsZero() && time.Since(h.checked) < h.cacheFor {
		return h.last
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.timeout) // one client leaving must not fail the probe the others share
	defer cancel()
	msg := herald.NewMessage([]byte(`{"probe":true}`))
	h.last = h.pub.Publish(ctx, h.topic, msg)
	h.checked = time.Now()
	return h.last
}
