package natsx

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// Stream is one consumption of a topic (adapters.Stream) on a pull
// consumer.
//
// It asks the server for at most Window messages in all: what it holds
// (delivered and not settled, handed out by Receive or not yet) plus what
// its pull requests may still bring never exceeds the window, so nothing
// is fetched ahead of it. Every delivery it holds, handed out or not, is
// kept from redelivery until it is settled: one ticker per stream sends
// JetStream's progress signal (+WPI) for those held for half the ack
// wait. Ack is JetStream's fire-and-forget ack, Nack a NAK, with the
// delay given (NakWithDelay's protocol) when positive.
//
// While the connection is down, or the server stops answering the pull
// requests, the stream reports it through StreamOptions.Status and asks
// again once the connection is back; a consumer that was deleted, or a
// connection closed for good, breaks the stream: Receive returns the
// error and the caller opens another (which creates the consumer again).
type Stream struct {
	s      *Subscription
	c      jetstream.Consumer
	nc     *nats.Conn
	topic  string
	window int
	status func(error)
	next   string // the pull request subject
	inbox  string // requests are answered on <inbox><id>
	sub    *nats.Subscription
	half   time.Duration // a delivery held this long is marked in progress
	expiry time.Duration // a delivery not kept alive this long may be redelivered

	ready    chan struct{} // capacity 1: a delivery was queued or a slot freed, or the stream ended
	wake     chan struct{} // capacity 1: the loop has work (a probe)
	stopped  chan struct{} // closed by Close: the loop ends
	loopDone chan struct{}
	unlisten func()
	cancel   context.CancelFunc // ends a probe under way
	life     context.Context

	mu        sync.Mutex
	closed    bool
	err       error       // the stream broke: what Receive returns
	queue     []*delivery // delivered, not yet handed out, from qh on
	qh        int
	head      *delivery // every delivery held (queued or handed out), oldest first
	tail      *delivery
	free      []*delivery // settled deliveries for reuse (at most window)
	held      int         // deliveries held
	handed    int         // handed out and not settled
	reqs      map[uint64]*pullRequest
	asked     int       // messages the requests may still bring
	seen      time.Time // the last message or status, or request sent
	reqSeq    uint64
	pullPause time.Time
	pullWait  time.Duration
	probe     bool // the loop should check that the consumer exists
	lost      bool // a problem was reported through Status, not yet its end

	smu     sync.Mutex // serialises Status; Close sets sclosed under it
	sclosed bool
	once    sync.Once
}

// delivery is one message the stream holds; adapters.Token.Ref points to
// it and Token.Seq is its gen. A settled delivery is reused for a later
// message with gen incremented, so that a token of the earlier message
// (a second Ack, a late Valid) matches nothing: every field but st is
// read and written under st.mu.
type delivery struct {
	st         *Stream
	gen        uint64
	reply      string // the ack subject
	msg        *herald.Message
	key        string
	attempt    int
	stored     time.Time // when the stream stored the message
	alive      time.Time // delivered, or last marked in progress
	prev, next *delivery
	handed     bool
	settled    bool
}

var _ adapters.Stream = (*Stream)(nil)

// errConsumerDeleted is the cause when the server says the consumer is
// gone.
var errConsumerDeleted = errors.New("the consumer was deleted")

func newStream(s *Subscription, c jetstream.Consumer, topic string, o adapters.StreamOptions) (*Stream, error) {
	info := c.CachedInfo()
	base := s.set.AckWait
	if len(s.set.BackOff) > 0 && s.set.BackOff[0] < base {
		base = s.set.BackOff[0]
	}
	st := &Stream{
		s: s, c: c, nc: s.nc, topic: topic, window: o.Window, status: o.Status,
		next:  "$JS.API.CONSUMER.MSG.NEXT." + info.Stream + "." + info.Name,
		inbox: s.nc.NewInbox() + ".",
		half:  base / 2, expiry: base,
		ready: make(chan struct{}, 1), wake: make(chan struct{}, 1), stopped: make(chan struct{}), loopDone: make(chan struct{}),
		reqs: map[uint64]*pullRequest{}, pullWait: minPullWait,
	}
	st.life, st.cancel = context.WithCancel(context.Background())
	sub, err := s.nc.Subscribe(st.inbox+"*", st.onMsg)
	if err != nil {
		return nil, fmt.Errorf("subscribing to the pull inbox: %w", err)
	}
	// The window bounds what comes: nats.go must not drop any of it.
	_ = sub.SetPendingLimits(-1, -1)
	st.sub = sub
	st.unlisten = s.watch.Listen(st.connChanged)
	st.pull()
	go st.loop(min(base/4, time.Second))
	return st, nil
}

// onMsg handles what the server sends to the inbox; it runs on nats.go's
// goroutine for the subscription.
func (st *Stream) onMsg(m *nats.Msg) {
	if m.Reply == "" {
		st.onStatus(requestID(m.Subject, len(st.inbox)), m)
		return
	}
	msg := st.s.m.decode(m.Header, m.Data, m.Reply)
	key := msg.Metadata[herald.KeyHeader]
	attempt, stored := ackInfo(m.Reply)
	now := time.Now()
	st.mu.Lock()
	st.arrived(now)
	if st.closed || st.err != nil {
		st.mu.Unlock()
		_ = st.nc.Publish(m.Reply, ackNak) // back to the consumer at once
		return
	}
	d := st.newDelivery()
	d.reply, d.msg, d.key, d.attempt, d.stored, d.alive = m.Reply, msg, key, attempt, stored, now
	st.link(d)
	st.queue = append(st.queue, d)
	recovered := st.healthy()
	st.mu.Unlock()
	st.signal(st.ready)
	if recovered {
		st.report(nil)
	}
}

// newDelivery returns a settled delivery to reuse, or a new one; st.mu
// is held.
func (st *Stream) newDelivery() *delivery {
	n := len(st.free)
	if n == 0 {
		return &delivery{st: st}
	}
	d := st.free[n-1]
	st.free[n-1] = nil
	st.free = st.free[:n-1]
	d.settled, d.handed = false, false
	return d
}

// recycle keeps settled d for reuse: its tokens stop matching it; st.mu
// is held.
func (st *Stream) recycle(d *delivery) {
	d.gen++
	d.reply, d.msg, d.key = "", nil, ""
	if len(st.free) < st.window {
		st.free = append(st.free, d)
	}
}

// holds reports whether t is the token of a delivery of st not settled
// yet, and returns it; st.mu is held.
func (st *Stream) holds(t adapters.Token) (*delivery, bool) {
	d, _ := t.Ref.(*delivery)
	if d == nil || d.st != st || d.gen != t.Seq || d.settled {
		return nil, false
	}
	return d, true
}

// link appends d to the held deliveries; st.mu is held.
func (st *Stream) link(d *delivery) {
	d.prev = st.tail
	if st.tail == nil {
		st.head = d
	} else {
		st.tail.next = d
	}
	st.tail = d
	st.held++
}

// unlink removes d from the held deliveries; st.mu is held.
func (st *Stream) unlink(d *delivery) {
	if d.prev == nil {
		st.head = d.next
	} else {
		d.prev.next = d.next
	}
	if d.next == nil {
		st.tail = d.prev
	} else {
		d.next.prev = d.prev
	}
	d.prev, d.next = nil, nil
	st.held--
}

// healthy ends a reported problem; it returns true when Status must be
// told; st.mu is held.
func (st *Stream) healthy() bool {
	st.probe = false
	if !st.lost {
		return false
	}
	st.lost = false
	return true
}

// Receive implements adapters.Stream.
func (st *Stream) Receive(ctx context.Context, buf []adapters.Received) (int, error) {
	if len(buf) == 0 {
		return 0, nil
	}
	for {
		st.mu.Lock()
		if st.closed {
			st.mu.Unlock()
			return 0, closedError(st.s.scheme, opSubscribe, st.topic)
		}
		if st.err != nil {
			err := st.err
			st.mu.Unlock()
			return 0, err
		}
		if n := len(st.queue) - st.qh; n > 0 && st.handed < st.window {
			k := min(len(buf), n, st.window-st.handed)
			for i := range k {
				d := st.queue[st.qh]
				st.queue[st.qh] = nil
				st.qh++
				d.handed = true
				buf[i] = adapters.Received{Msg: d.msg, Key: d.key, Attempt: d.attempt, Time: d.stored, Token: adapters.Token{Seq: d.gen, Ref: d}}
			}
			st.handed += k
			if st.qh == len(st.queue) {
				st.queue, st.qh = st.queue[:0], 0
			} else if st.qh >= 64 && st.qh*2 >= len(st.queue) {
				n := copy(st.queue, st.queue[st.qh:])
				clear(st.queue[n:])
				st.queue, st.qh = st.queue[:n], 0
			}
			st.mu.Unlock()
			return k, nil
		}
		st.mu.Unlock()
		select {
		case <-st.ready:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// settle takes t's delivery off the held ones, asks for more when there
// is room, and returns its ack subject and message ID; ok is false when
// t was settled already, is not this stream's, or the stream is closed.
func (st *Stream) settle(t adapters.Token) (reply, id string, ok bool) {
	st.mu.Lock()
	d, ok := st.holds(t)
	if !ok || st.closed {
		st.mu.Unlock()
		return "", "", false
	}
	reply, id = d.reply, d.msg.UUID
	d.settled = true
	st.unlink(d)
	freed := false
	if d.handed {
		st.handed--
		freed = len(st.queue) > st.qh
	}
	st.recycle(d)
	next, n := st.plan()
	st.mu.Unlock()
	if freed {
		st.signal(st.ready)
	}
	st.request(next, n)
	return reply, id, true
}

// Ack implements adapters.Stream: JetStream's fire-and-forget ack (one
// per message: the consumer's AckExplicit policy has no cumulative ack
// that would not also settle the messages other members of the group
// hold; nats.go's writer coalesces the acks into its socket writes).
func (st *Stream) Ack(t adapters.Token) {
	if reply, id, ok := st.settle(t); ok {
		if err := st.nc.Publish(reply, ackAck); err != nil {
			st.s.log.Debug("herald/"+st.s.scheme+": ack failed; the message will be redelivered", "topic", st.topic, "id", id, "err", err)
		}
	}
}

// Nack implements adapters.Stream: a NAK, redelivered by the server after
// delay (at once for 0).
func (st *Stream) Nack(t adapters.Token, delay time.Duration) {
	reply, id, ok := st.settle(t)
	if !ok {
		return
	}
	body := ackNak
	if delay > 0 {
		body = nakDelay(delay)
	}
	if err := st.nc.Publish(reply, body); err != nil {
		st.s.log.Debug("herald/"+st.s.scheme+": nack failed; the message will be redelivered after ack_wait", "topic", st.topic, "id", id, "err", err)
	}
}

// Valid implements adapters.Stream: a delivery may still be handled
// while it is held by this stream, the stream works, and it was kept
// alive within the ack wait (after an outage longer than that the server
// may have handed it to another subscriber).
func (st *Stream) Valid(t adapters.Token) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	d, ok := st.holds(t)
	return ok && !st.closed && st.err == nil && time.Since(d.alive) < st.expiry
}

// loop keeps the held deliveries alive, forgets pull requests the server
// no longer answers, checks the consumer when asked to, and pulls.
func (st *Stream) loop(every time.Duration) {
	defer close(st.loopDone)
	tick := time.NewTicker(every)
	defer tick.Stop()
	var due []string
	var lastProbe time.Time
	for {
		select {
		case <-tick.C:
			var silent bool
			due, silent = st.keepAlive(due[:0])
			for i, reply := range due {
				_ = st.nc.Publish(reply, ackProgress)
				due[i] = ""
			}
			if silent {
				st.report(st.lostError(errors.New("the server stopped answering the pull requests (no heartbeat)")))
			}
		case <-st.wake:
		case <-st.stopped:
			return
		}
		st.mu.Lock()
		probe := st.probe && time.Since(lastProbe) >= time.Second
		st.mu.Unlock()
		if probe {
			lastProbe = time.Now()
			st.check()
		}
		st.pull()
	}
}

// keepAlive returns the ack subjects of the deliveries held for half the
// ack wait (marking them alive now), and forgets the requests the server
// no longer answers; silent is true when that newly means a problem to
// report. While the connection is down nothing is marked: the signals
// would not reach the server.
func (st *Stream) keepAlive(due []string) (_ []string, silent bool) {
	now := time.Now()
	connected := st.nc.IsConnected()
	st.mu.Lock()
	defer st.mu.Unlock()
	if connected {
		for d := st.head; d != nil; d = d.next {
			if now.Sub(d.alive) >= st.half {
				due = append(due, d.reply)
				d.alive = now
			}
		}
	}
	if st.housekeep(now) && connected {
		st.probe = true
		silent = !st.lost
		st.lost = true
	}
	return due, silent
}

// check asks the server whether the consumer still exists: gone, the
// stream breaks; no answer, the problem is reported; there, the stream
// is healthy again.
func (st *Stream) check() {
	if !st.nc.IsConnected() {
		return
	}
	ctx, cancel := context.WithTimeout(st.life, probeWait)
	defer cancel()
	_, err := st.c.Info(ctx)
	switch {
	case err == nil:
		st.mu.Lock()
		recovered := st.healthy()
		st.mu.Unlock()
		if recovered {
			st.report(nil)
		}
	case errors.Is(err, jetstream.ErrConsumerNotFound), errors.Is(err, jetstream.ErrStreamNotFound):
		st.mu.Lock()
		st.breakLocked(err)
		st.mu.Unlock()
		st.signal(st.ready)
	case st.life.Err() != nil:
	default:
		st.problem(err)
	}
}

// probeWait bounds a check of the consumer.
const probeWait = 5 * time.Second

// connChanged follows the connection: lost, the problem is reported;
// back, the pull requests (lost with it) are made again and the consumer
// checked; closed for good (max_reconnects), the stream breaks.
func (st *Stream) connChanged(err error) {
	switch {
	case err == nil:
		st.mu.Lock()
		st.dropRequests()
		st.pullWait = minPullWait
		st.pullPause = time.Time{}
		st.probe = true
		st.mu.Unlock()
		st.signal(st.wake)
	case st.nc.IsClosed():
		st.mu.Lock()
		st.breakLocked(err)
		st.mu.Unlock()
		st.signal(st.ready)
	default:
		st.problem(err)
	}
}

// problem reports that the stream does not receive for now.
func (st *Stream) problem(cause error) {
	st.mu.Lock()
	st.lost = true
	st.mu.Unlock()
	st.report(st.lostError(cause))
}

func (st *Stream) lostError(cause error) error {
	return Error(st.s.scheme, opSubscribe, st.topic, herald.KindUnreachable, fmt.Errorf("%w: %w", herald.ErrSubscriptionLost, cause))
}

// breakLocked ends the stream with cause: Receive returns it; st.mu is
// held.
func (st *Stream) breakLocked(cause error) {
	if st.err != nil || st.closed {
		return
	}
	k := herald.KindOther
	if errors.Is(cause, nats.ErrConnectionClosed) {
		k = herald.KindUnreachable
	}
	st.err = Error(st.s.scheme, opSubscribe, st.topic, k, fmt.Errorf("%w: %w", herald.ErrSubscriptionLost, cause))
}

// report passes err to Status, unless Close began.
func (st *Stream) report(err error) {
	st.smu.Lock()
	defer st.smu.Unlock()
	if !st.sclosed {
		st.status(err)
	}
}

func (st *Stream) signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Close implements adapters.Stream: it stops pulling, lets what is on its
// way in be returned to the consumer (NAK), returns every delivery held
// and not settled at once (NAK: redelivered to the group's other
// members) and flushes the connection, within ctx, so that the acks,
// nacks and NAKs reach the server.
func (st *Stream) Close(ctx context.Context) error {
	var err error
	st.once.Do(func() {
		st.smu.Lock()
		st.sclosed = true
		st.smu.Unlock()
		st.unlisten()
		st.mu.Lock()
		st.closed = true
		var naks []string
		for d := st.head; d != nil; d = d.next {
			naks = append(naks, d.reply)
			d.settled = true
		}
		st.head, st.tail, st.held, st.handed = nil, nil, 0, 0
		clear(st.queue)
		st.queue, st.qh = nil, 0
		st.dropRequests()
		st.mu.Unlock()
		close(st.stopped)
		st.cancel()
		st.signal(st.ready)
		<-st.loopDone
		st.stopDeliveries(ctx)
		for _, reply := range naks {
			_ = st.nc.Publish(reply, ackNak)
		}
		if st.nc.IsConnected() {
			fctx, cancel := boundedContext(ctx, 5*time.Second)
			if ferr := st.nc.FlushWithContext(fctx); ferr != nil && !st.nc.IsClosed() {
				err = Error(st.s.scheme, opClose, st.topic, Kind(ferr), ferr)
			}
			cancel()
		}
		st.s.forget(st)
	})
	return err
}

// stopDeliveries ends the inbox subscription. Draining it lets the
// messages already on their way in arrive (onMsg returns them at once)
// until the server has taken the unsubscribe, after which no pull request
// of this stream is served.
func (st *Stream) stopDeliveries(ctx context.Context) {
	if !st.nc.IsConnected() {
		_ = st.sub.Unsubscribe()
		return
	}
	closed := st.sub.StatusChanged(nats.SubscriptionClosed)
	if st.sub.Drain() != nil {
		_ = st.sub.Unsubscribe()
		return
	}
	dctx, cancel := boundedContext(ctx, 5*time.Second)
	defer cancel()
	select {
	case <-closed:
	case <-dctx.Done():
		_ = st.sub.Unsubscribe()
	}
}
