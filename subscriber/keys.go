package subscriber

import "sync"

// keyed hands deliveries to workers so that deliveries with the same
// non-empty key run one at a time, in the order received, and all others
// in parallel: a delivery whose key is already being handled waits in that
// key's queue, and the worker that finishes the key takes it next. A
// delivery held for a local redelivery keeps its key busy; redispatch
// hands it to a worker again, ahead of the deliveries waiting behind it.
// The stream's window bounds how many wait.
//
// The hand-off to the workers is buffered (dispatchBuffer, or one per
// worker when more): the reader puts down what one Receive returned
// without waiting for a worker to take each, and a worker takes the next
// without waking the reader, so a busy subscription costs no goroutine
// switch per message. A delivery still in the buffer when stopping is
// left unsettled (the stream releases it), like one the reader holds.
type keyed struct {
	work chan item

	mu   sync.Mutex
	busy map[string][]item // keys in a worker (or held) -> deliveries waiting for it
}

// dispatchBuffer is the hand-off's capacity: the deliveries one Receive
// returns at most (run.read's buffer).
const dispatchBuffer = 64

func (k *keyed) init(workers int) {
	k.work = make(chan item, max(workers, dispatchBuffer))
	k.busy = make(map[string][]item)
}

// dispatch hands it to a free worker or queues it behind its key. It
// returns false when stop was closed first.
func (k *keyed) dispatch(it item, stop <-chan struct{}) bool {
	if key := it.d.Key; key != "" {
		k.mu.Lock()
		if q, busy := k.busy[key]; busy {
			k.busy[key] = append(q, it)
			k.mu.Unlock()
			return true
		}
		k.busy[key] = nil
		k.mu.Unlock()
	}
	return k.redispatch(it, stop)
}

// redispatch hands it, whose key is already marked busy, to a worker.
func (k *keyed) redispatch(it item, stop <-chan struct{}) bool {
	select { // room in the buffer: no two-way select (stop is checked by the worker)
	case k.work <- it:
		return true
	default:
	}
	select {
	case k.work <- it:
		return true
	case <-stop:
		k.abandon(it.d.Key)
		return false
	}
}

// next waits for a delivery to start; false when stopping.
func (k *keyed) next(stop <-chan struct{}) (item, bool) {
	var it item
	select { // one waits in the buffer: no two-way select
	case it = <-k.work:
	default:
		select {
		case <-stop:
			return item{}, false
		case it = <-k.work:
		}
	}
	select {
	case <-stop: // stopping won the race: leave it unsettled
		k.abandon(it.d.Key)
		return item{}, false
	default:
	}
	return it, true
}

// after returns the next delivery queued behind key once the previous one
// finished, or false (and frees the key) when none waits.
func (k *keyed) after(key string) (item, bool) {
	if key == "" {
		return item{}, false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	q := k.busy[key]
	if len(q) == 0 {
		delete(k.busy, key)
		return item{}, false
	}
	it := q[0]
	q[0] = item{}
	k.busy[key] = q[1:]
	return it, true
}

// abandon frees key when its worker stops; what waited behind it stays
// unsettled and is released by the stream.
func (k *keyed) abandon(key string) {
	if key == "" {
		return
	}
	k.mu.Lock()
	delete(k.busy, key)
	k.mu.Unlock()
}
