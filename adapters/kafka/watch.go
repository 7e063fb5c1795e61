package kafka

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/heraldkit/herald"
)

// watch waits for the end of one context for every send taken under it
// and not answered: when the context ends, each of them that franz-go
// neither fails nor answers within answerGrace gets KindOutcomeUnknown.
// Sends under the same context share a watch (PublishAsync hands a
// hundredth of the publish timeout's worth of messages one context), so
// the watch costs a context.AfterFunc per context, not per record.
type watch struct {
	ctx context.Context

	mu      sync.Mutex
	head    *send // the sends not answered, linked through send.prev/next
	expired bool  // ctx ended: a send joining now gets its own grace
}

// watchFor returns the watch of ctx: the last one made if it is ctx's,
// else a new one.
func (t *topic) watchFor(ctx context.Context) *watch {
	if w := t.lastWatch.Load(); w != nil && sameContext(w.ctx, ctx) {
		return w
	}
	w := &watch{ctx: ctx}
	context.AfterFunc(ctx, w.ended)
	t.lastWatch.Store(w)
	return w
}

// sameContext reports whether a and b are the same context, without the
// panic of == on a context type that is not comparable.
func sameContext(a, b context.Context) bool {
	ta := reflect.TypeOf(a)
	return ta == reflect.TypeOf(b) && ta.Comparable() && a == b
}

// add links st into w.
func (w *watch) add(st *send) {
	w.mu.Lock()
	defer w.mu.Unlock()
	st.w = w
	st.next = w.head
	if w.head != nil {
		w.head.prev = st
	}
	w.head = st
	if w.expired {
		time.AfterFunc(answerGrace, func() { st.finish(st.unanswered()) })
	}
}

// remove unlinks st from w.
func (w *watch) remove(st *send) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if st.prev != nil {
		st.prev.next = st.next
	} else if w.head == st {
		w.head = st.next
	}
	if st.next != nil {
		st.next.prev = st.prev
	}
	st.prev, st.next = nil, nil
}

// ended runs when w's context ended: the sends not answered by then get
// answerGrace more.
func (w *watch) ended() {
	w.mu.Lock()
	w.expired = true
	idle := w.head == nil
	w.mu.Unlock()
	if !idle {
		time.AfterFunc(answerGrace, w.late)
	}
}

// late fails the sends still not answered with KindOutcomeUnknown.
func (w *watch) late() {
	w.mu.Lock()
	var left []*send
	for st := w.head; st != nil; st = st.next {
		left = append(left, st)
	}
	w.mu.Unlock()
	for _, st := range left {
		st.finish(st.unanswered())
	}
}

// unanswered is the error of a send whose context ended and that
// franz-go neither failed nor answered within answerGrace.
func (st *send) unanswered() error {
	return newError(opPublish, st.topic, herald.KindOutcomeUnknown, fmt.Errorf(
		"no answer before the deadline: the client still holds the record, which it may have written: %w",
		context.Cause(st.Context)))
}
