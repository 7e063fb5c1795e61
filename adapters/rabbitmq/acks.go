package rabbitmq

import "github.com/heraldkit/herald/internal/flow"

// ledger is the settlement bookkeeping of one consumer channel: which
// delivery tags were handed out and settled, and which acks and nacks
// are still to be sent. It decides how each settlement reaches the
// broker:
//
//   - a settlement that extends the contiguous settled prefix of tags is
//     sent as one multiple-ack naming the highest tag of the prefix the
//     broker still holds unacked (so several settlements in a row cost
//     one frame);
//   - an ack above an unsettled tag is sent alone (a single ack) at once,
//     never held back behind the unsettled one: a slow handler or a hot
//     key does not keep the others' deliveries in the prefetch window, and
//     Close does not requeue what was handled;
//   - a nack is sent alone.
//
// A single ack still queued when the prefix grows past its tag goes out
// with the multiple-ack instead. AMQP delivery tags of a channel are
// consecutive from 1, and a multiple-ack names a tag the broker still
// holds: it never names a tag already acked or nacked alone (the broker
// would close the channel over an unknown tag).
//
// It is not safe for concurrent use (the stream holds its lock).
type ledger struct {
	wm      flow.Watermark
	mark    uint64              // every tag up to it is settled
	gone    map[uint64]struct{} // above mark: settled alone (an ack or nack sent or queued)
	ackTo   uint64              // multiple-ack to send (0: none)
	sentTo  uint64              // the last multiple-ack taken
	singles []uint64            // single acks to send
	nacks   []uint64            // nacks (requeue) to send
}

// add records that tag was handed out; tags come in increasing order.
func (l *ledger) add(tag uint64) { l.wm.Add(tag) }

// settled reports whether tag was settled already (a settlement is
// counted once).
func (l *ledger) settled(tag uint64) bool {
	if tag <= l.mark {
		return true
	}
	_, ok := l.gone[tag]
	return ok
}

// ack settles tag as processed.
func (l *ledger) ack(tag uint64) {
	if l.settled(tag) {
		return
	}
	up, advanced := l.wm.Done(tag)
	if !advanced {
		l.alone(tag)
		l.singles = append(l.singles, tag)
		return
	}
	l.advance(up)
}

// nack settles tag for redelivery: it is requeued alone.
func (l *ledger) nack(tag uint64) {
	if l.settled(tag) {
		return
	}
	l.alone(tag)
	l.nacks = append(l.nacks, tag)
	if up, advanced := l.wm.Done(tag); advanced {
		l.advance(up)
	}
}

func (l *ledger) alone(tag uint64) {
	if l.gone == nil {
		l.gone = map[uint64]struct{}{}
	}
	l.gone[tag] = struct{}{}
}

// advance moves the settled prefix to up and queues its multiple-ack.
func (l *ledger) advance(up uint64) {
	if len(l.singles) > 0 {
		// Not sent yet: the multiple-ack covers them.
		keep := l.singles[:0]
		for _, t := range l.singles {
			if t <= up {
				delete(l.gone, t)
			} else {
				keep = append(keep, t)
			}
		}
		l.singles = keep
	}
	to := up
	if len(l.gone) > 0 {
		for to > l.mark {
			if _, ok := l.gone[to]; !ok {
				break
			}
			to--
		}
		for t := range l.gone {
			if t <= up {
				delete(l.gone, t)
			}
		}
	}
	if to > l.mark {
		l.ackTo = to
	}
	l.mark = up
}

// due reports whether what is queued should go out now rather than wait
// a moment for more to coalesce: a nack, or batch frames' worth.
func (l *ledger) due(batch int) bool {
	return len(l.nacks) > 0 || len(l.singles) >= batch || (l.ackTo > 0 && l.ackTo-l.sentTo >= uint64(batch))
}

// pending reports whether anything is queued.
func (l *ledger) pending() bool {
	return len(l.nacks) > 0 || len(l.singles) > 0 || l.ackTo > 0
}

// unsettled is how many tags handed out are not settled.
func (l *ledger) unsettled() int { return l.wm.Pending() - len(l.gone) }

// take returns what to send, in this order (nacks, single acks, then
// the multiple-ack, 0 for none), and forgets it.
func (l *ledger) take() (nacks, singles []uint64, to uint64) {
	nacks, singles, to = l.nacks, l.singles, l.ackTo
	l.nacks, l.singles, l.ackTo = nil, nil, 0
	if to > 0 {
		l.sentTo = to
	}
	return nacks, singles, to
}
