package wmbridge

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// maxBatch is the most queued messages to one topic that go in one
// Watermill Publish call.
const maxBatch = 64

// topic is the publish side of a Watermill Pub/Sub: one goroutine
// publishes the queued messages in the order they were sent, several of
// one topic per Publish call, and calls their done with the result.
type topic struct {
	d   *driver
	pub message.Publisher

	mu       sync.Mutex
	queue    []*job
	inflight []*job
	closed   bool
	wake     chan struct{} // cap 1: the queue grew or Close was called
	idle     chan struct{} // closed when the worker has returned
}

// A job's state: queued, then in flight, then finished; done is called
// by whoever moves it to finished.
const (
	queued int32 = iota
	inFlight
	finished
)

type job struct {
	topic string
	m     *herald.Message
	done  func(error)
	state atomic.Int32
	stop  atomic.Pointer[func() bool] // stops the ctx watch
	t     *topic
}

func newTopic(d *driver, pub message.Publisher) *topic {
	t := &topic{d: d, pub: pub, wake: make(chan struct{}, 1), idle: make(chan struct{})}
	go t.work()
	return t
}

// Send implements adapters.Topic: it queues m for the Watermill
// publisher's worker. A Watermill publisher has no delivery time (its
// delay component only writes metadata that most Pub/Subs ignore) and no
// broker properties, so the bridge declares neither and refuses them.
func (t *topic) Send(ctx context.Context, name string, m *herald.Message, o adapters.SendOptions, done func(error)) error {
	switch {
	case !o.At.IsZero():
		return &herald.Error{Backend: t.d.b.Name, Op: "publish to", Topic: name, Kind: herald.KindInvalid, Err: errors.New("a Watermill backend has no delayed delivery (maximum delay 0)")}
	case !o.Properties.IsZero():
		return &herald.Error{Backend: t.d.b.Name, Op: "publish to", Topic: name, Kind: herald.KindInvalid, Err: errors.New("a Watermill backend has no broker properties (herald.Properties): metadata entries are its headers")}
	}
	if name == "" {
		return &herald.Error{Backend: t.d.b.Name, Op: "publish to", Kind: herald.KindInvalid, Err: errors.New("the topic name is empty")}
	}
	if err := ctx.Err(); err != nil {
		return &herald.Error{Backend: t.d.b.Name, Op: "publish to", Topic: name, Kind: herald.KindUnreachable, Err: err}
	}
	j := &job{topic: name, m: m, done: done, t: t}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return t.d.closedError("publish to", name)
	}
	t.queue = append(t.queue, j)
	stop := context.AfterFunc(ctx, func() { j.expire(ctx.Err()) })
	j.stop.Store(&stop)
	t.mu.Unlock()
	t.signal()
	return nil
}

// expire fails j when its ctx ended before its answer: never written
// (still queued) or written without an answer (in flight).
func (j *job) expire(cause error) {
	name := j.t.d.b.Name
	if j.finish(queued, &herald.Error{Backend: name, Op: "publish to", Topic: j.topic, Kind: herald.KindUnreachable, Err: cause}) {
		return
	}
	j.finish(inFlight, &herald.Error{Backend: name, Op: "publish to", Topic: j.topic, Kind: herald.KindOutcomeUnknown, Err: cause})
}

// finish calls done with err if j is still in state from.
func (j *job) finish(from int32, err error) bool {
	if !j.state.CompareAndSwap(from, finished) {
		return false
	}
	if stop := j.stop.Load(); stop != nil {
		(*stop)()
	}
	j.done(err)
	return true
}

func (t *topic) signal() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// work publishes until Close and the queue is empty.
func (t *topic) work() {
	defer close(t.idle)
	for {
		batch, ok := t.next()
		if !ok {
			return
		}
		if len(batch) == 0 {
			continue
		}
		msgs := make([]*message.Message, len(batch))
		for i, j := range batch {
			msgs[i] = j.m
		}
		var res error
		if err := t.pub.Publish(batch[0].topic, msgs...); err != nil {
			res = t.d.wrap("publish to", batch[0].topic, herald.KindOutcomeUnknown, err)
		}
		for _, j := range batch {
			j.finish(inFlight, res)
		}
		t.mu.Lock()
		t.inflight = nil
		t.mu.Unlock()
	}
}

// next waits for queued messages and takes the first ones to one topic,
// in flight; false once closed with nothing queued.
func (t *topic) next() ([]*job, bool) {
	t.mu.Lock()
	for len(t.queue) == 0 {
		if t.closed {
			t.mu.Unlock()
			return nil, false
		}
		t.mu.Unlock()
		<-t.wake
		t.mu.Lock()
	}
	name := t.queue[0].topic
	n := 0
	for n < len(t.queue) && n < maxBatch && t.queue[n].topic == name {
		n++
	}
	var batch []*job
	for _, j := range t.queue[:n] {
		if j.state.CompareAndSwap(queued, inFlight) {
			batch = append(batch, j)
		}
	}
	t.queue = append(t.queue[:0], t.queue[n:]...)
	t.inflight = batch
	t.mu.Unlock()
	return batch, true
}

func (t *topic) Close(ctx context.Context) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	t.mu.Unlock()
	t.signal()
	select {
	case <-t.idle:
	case <-ctx.Done():
	}
	t.mu.Lock()
	rest := slices.Concat(t.inflight, t.queue)
	t.queue, t.inflight = nil, nil
	t.mu.Unlock()
	for _, j := range rest {
		if !j.finish(queued, t.d.closedError("publish to", j.topic)) {
			j.finish(inFlight, &herald.Error{Backend: t.d.b.Name, Op: "publish to", Topic: j.topic, Kind: herald.KindOutcomeUnknown, Err: ctx.Err()})
		}
	}
	select {
	case <-t.idle:
	default:
		// A Publish call is still running: Watermill publishers are not
		// made to be closed under one (Sarama's panics), so the publisher
		// is closed once it returns; its messages were answered above.
		go func() {
			<-t.idle
			_ = t.pub.Close()
		}()
		return nil
	}
	if err := t.pub.Close(); err != nil {
		return t.d.wrap("close publisher", "", herald.KindOther, err)
	}
	return nil
}

func (t *topic) As(target any) bool { return setAs(target, t.pub) }

// setAs sets *target to v when target is a non-nil pointer to a type v is
// assignable to (message.Publisher, *kafka.Publisher, ...).
func setAs(target, v any) bool {
	rv := reflect.ValueOf(target)
	if v == nil || rv.Kind() != reflect.Pointer || rv.IsNil() {
		return false
	}
	if !reflect.TypeOf(v).AssignableTo(rv.Elem().Type()) {
		return false
	}
	rv.Elem().Set(reflect.ValueOf(v))
	return true
}
