package subscriber

import (
	"context"
	"hash/maphash"
	"sync"
	"time"

	"github.com/heraldkit/herald"
)

// batching forms the batches of one SubscribeBatch call. The reader adds
// each delivery to a lane: deliveries with a key always to the same lane
// (the key's hash), those without one in turn. A lane runs one batch at a
// time, so a key's deliveries are handled in the order received; it cuts
// a batch when it holds size deliveries or wait after the first arrived.
//
// On a RedeliverLocal backend a lane also keeps the order across
// retries: a key with deliveries held for their redelivery delay is
// blocked, and its later deliveries wait behind them (batchsettle.go).
type batching struct {
	r       *run
	handler herald.BatchHandler
	size    int
	wait    time.Duration
	lanes   []*lane
	seed    maphash.Seed
	next    int // the lane for the next delivery without a key (reader only)
}

func newBatching(r *run, h herald.BatchHandler, o batchOptions) *batching {
	b := &batching{r: r, handler: h, size: o.size, wait: o.wait, seed: maphash.MakeSeed()}
	for range r.sub.opts.concurrency {
		b.lanes = append(b.lanes, &lane{b: b, wake: make(chan struct{}, 1), blocked: map[string][]entry{}})
	}
	return b
}

// add hands it to its lane; called by the reader.
func (b *batching) add(it item) {
	var l *lane
	switch {
	case len(b.lanes) == 1:
		l = b.lanes[0]
	case it.d.Key != "":
		l = b.lanes[maphash.String(b.seed, it.d.Key)%uint64(len(b.lanes))]
	default:
		l = b.lanes[b.next]
		b.next = (b.next + 1) % len(b.lanes)
	}
	l.add([]entry{{it: it, at: time.Now()}}, false)
}

// lane is one sequence of batches.
type lane struct {
	b    *batching
	wake chan struct{} // signalled when pending grows

	mu      sync.Mutex
	pending []entry            // deliveries waiting for a batch, in order
	blocked map[string][]entry // keys held for a local redelivery -> deliveries waiting behind them
}

// entry is a delivery waiting in a lane and when it arrived there.
type entry struct {
	it item
	at time.Time
}

// add appends es (front: prepends them, for redeliveries) to the pending
// deliveries; those of a blocked key wait behind it instead.
func (l *lane) add(es []entry, front bool) {
	l.mu.Lock()
	var ready []entry
	for _, e := range es {
		if q, ok := l.blocked[e.it.d.Key]; ok && e.it.d.Key != "" {
			l.blocked[e.it.d.Key] = append(q, e)
			continue
		}
		ready = append(ready, e)
	}
	if front {
		l.pending = append(ready, l.pending...)
	} else {
		l.pending = append(l.pending, ready...)
	}
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// block holds key for a local redelivery: its pending deliveries, and
// those that arrive until unblock, wait behind it.
func (l *lane) block(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	q := l.blocked[key]
	keep := l.pending[:0]
	for _, e := range l.pending {
		if e.it.d.Key == key {
			q = append(q, e)
		} else {
			keep = append(keep, e)
		}
	}
	clear(l.pending[len(keep):])
	l.pending = keep
	l.blocked[key] = q
}

// unblock puts the redelivered es of key first, followed by the
// deliveries that waited behind them, and frees key.
func (l *lane) unblock(key string, es []entry) {
	l.mu.Lock()
	waiting := l.blocked[key]
	delete(l.blocked, key)
	l.mu.Unlock()
	l.add(append(es, waiting...), true)
}

// loop cuts and handles batches until stop is closed. Deliveries still
// pending then are left unsettled: the stream releases them on Close.
func (l *lane) loop(ctx context.Context, stop <-chan struct{}) {
	size, wait := l.b.size, l.b.wait
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		l.mu.Lock()
		n := len(l.pending)
		var first time.Time
		if n > 0 {
			first = l.pending[0].at
		}
		l.mu.Unlock()
		if n == 0 {
			select {
			case <-stop:
				return
			case <-l.wake:
				continue
			}
		}
		if n < size && wait > 0 {
			if left := time.Until(first.Add(wait)); left > 0 {
				timer.Reset(left)
				select {
				case <-stop:
					return
				case <-l.wake:
					timer.Stop()
					continue // count again
				case <-timer.C:
				}
			}
		}
		select {
		case <-stop: // stopping won the race: leave them unsettled
			return
		default:
		}
		l.mu.Lock()
		k := min(size, len(l.pending))
		batch := make([]entry, k)
		copy(batch, l.pending)
		clear(l.pending[:k])
		l.pending = l.pending[k:]
		l.mu.Unlock()
		l.b.r.handleBatch(ctx, l, batch)
	}
}
