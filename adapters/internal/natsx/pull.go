package natsx

import (
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// A Stream pulls with its own pull requests on one inbox subscription,
// rather than through nats.go's Messages or Consume, so that it asks for
// no more than its window: nats.go's iterators buffer up to their batch
// on top of what the caller holds, and nothing keeps those messages
// alive (issue 14, item 5).
//
// Accounting: asked is what the requests may still bring. A message
// takes one off; a request that ends before its batch is full (it
// expired, the server refused it, the consumer's leader changed) takes
// off what the server says it did not bring (Nats-Pending-Messages), or
// its whole batch when it was refused. Each request has its own reply
// subject (<inbox><id>), to which the server sends its statuses
// (messages come with their own subject), so every status is matched to
// its request.
const (
	// pullExpires is how long a request waits at the server for messages.
	pullExpires = 30 * time.Second
	// pullHeartbeat is the server's idle heartbeat on a waiting request.
	// When the stream awaits messages and nothing at all came for
	// pullSilence, its requests are taken as lost (a partition, a server
	// restart the client did not notice yet).
	pullHeartbeat = 5 * time.Second
	pullSilence   = 2*pullHeartbeat + time.Second
	// After an abnormal answer (no responders, a leadership change) the
	// next request waits from minPullWait, doubling to maxPullWait.
	minPullWait = 100 * time.Millisecond
	maxPullWait = 2 * time.Second
)

// pendingHdr is the header of a request's end that says how many of its
// messages it did not bring.
const pendingHdr = "Nats-Pending-Messages"

// pullRequest is one pull request sent.
type pullRequest struct {
	batch   int
	expires time.Time // when the server ends it at the latest
}

// Acknowledgement bodies (JetStream's ack protocol).
var (
	ackAck      = []byte("+ACK")
	ackNak      = []byte("-NAK")
	ackProgress = []byte("+WPI")
)

// nakDelay is the body of a NAK redelivered after d.
func nakDelay(d time.Duration) []byte {
	b := make([]byte, 0, 32)
	b = append(b, `-NAK {"delay": `...)
	b = strconv.AppendInt(b, int64(d), 10)
	return append(b, '}')
}

// pullBody is the request for batch messages.
func pullBody(batch int) []byte {
	b := make([]byte, 0, 64)
	b = append(b, `{"batch":`...)
	b = strconv.AppendInt(b, int64(batch), 10)
	b = append(b, `,"expires":`...)
	b = strconv.AppendInt(b, int64(pullExpires), 10)
	b = append(b, `,"idle_heartbeat":`...)
	b = strconv.AppendInt(b, int64(pullHeartbeat), 10)
	return append(b, '}')
}

// requestID is the request a status sent to subject answers (0 when
// subject is not <inbox><id>).
func requestID(subject string, inboxLen int) uint64 {
	if len(subject) <= inboxLen {
		return 0
	}
	id, err := strconv.ParseUint(subject[inboxLen:], 10, 64)
	if err != nil {
		return 0
	}
	return id
}

// plan decides the next pull request: it returns its id and batch, or 0
// when none is due. The stream asks for at most its window minus what it
// holds and what it asked for already, and for half its window or more
// unless it holds and awaits nothing (so requests are not one message
// each while the window is busy). It runs at every settlement: the room
// is checked first, so that the clock and the connection (nats.go's
// lock) are read only when a request is due. st.mu is held.
func (st *Stream) plan() (uint64, int) {
	room := st.window - st.held - st.asked
	if room <= 0 || (room < max(1, st.window/2) && st.held+st.asked > 0) || st.closed || st.err != nil {
		return 0, 0
	}
	now := time.Now()
	if now.Before(st.pullPause) || !st.nc.IsConnected() {
		return 0, 0
	}
	st.reqSeq++
	st.reqs[st.reqSeq] = &pullRequest{batch: room, expires: now.Add(pullExpires + pullSilence)}
	st.asked += room
	st.seen = now // the silence is counted from the request on
	return st.reqSeq, room
}

// request sends the pull request planned; a request that cannot be
// written is dropped and tried again after a pause.
func (st *Stream) request(id uint64, batch int) {
	if id == 0 {
		return
	}
	err := st.nc.PublishMsg(&nats.Msg{Subject: st.next, Reply: st.inbox + strconv.FormatUint(id, 10), Data: pullBody(batch)})
	if err != nil {
		st.mu.Lock()
		st.ended(id, 0, false)
		st.pause(time.Now())
		st.mu.Unlock()
	}
}

// pull sends a pull request when one is due.
func (st *Stream) pull() {
	st.mu.Lock()
	id, n := st.plan()
	st.mu.Unlock()
	st.request(id, n)
}

// arrived counts a message; st.mu is held.
func (st *Stream) arrived(now time.Time) {
	st.seen = now
	st.pullWait = minPullWait
	if st.asked > 0 {
		st.asked--
	}
	if st.asked == 0 {
		clear(st.reqs) // every request is done
	}
}

// ended forgets request id, which brought all but pending of its batch
// (known: the server said so), or none of it (it was refused); st.mu is
// held.
func (st *Stream) ended(id uint64, pending int, known bool) {
	r, ok := st.reqs[id]
	switch {
	case known:
		st.asked -= pending
	case ok:
		st.asked -= r.batch
	}
	delete(st.reqs, id)
	if st.asked <= 0 {
		st.dropRequests()
	}
}

// dropRequests forgets every request (the server lost them: a reconnect,
// a leadership change); st.mu is held.
func (st *Stream) dropRequests() {
	clear(st.reqs)
	st.asked = 0
}

// pause holds the next pull request back after an abnormal answer; st.mu
// is held.
func (st *Stream) pause(now time.Time) {
	st.pullPause = now.Add(st.pullWait)
	st.pullWait = min(2*st.pullWait, maxPullWait)
}

// onStatus handles a status the server sent for request id: a heartbeat,
// the request's end, or a problem with the consumer.
func (st *Stream) onStatus(id uint64, m *nats.Msg) {
	code, desc := m.Header.Get("Status"), m.Header.Get("Description")
	pending, perr := strconv.Atoi(m.Header.Get(pendingHdr))
	known := perr == nil
	now := time.Now()
	st.mu.Lock()
	st.seen = now
	switch {
	case code == "100": // idle heartbeat
		recovered := st.healthy()
		st.mu.Unlock()
		if recovered {
			st.report(nil)
		}
		return
	case code == "408" && known, code == "404": // the request expired: ask again
		st.ended(id, pending, known)
		recovered := st.healthy()
		next, n := st.plan()
		st.mu.Unlock()
		if recovered {
			st.report(nil)
		}
		st.request(next, n)
		return
	case code == "409" && strings.Contains(strings.ToLower(desc), "consumer deleted"):
		st.breakLocked(errConsumerDeleted)
		st.mu.Unlock()
		st.signal(st.ready)
		return
	case code == "409" && strings.Contains(strings.ToLower(desc), "leadership change"):
		st.dropRequests() // every request is gone with the old leader
		st.pause(now)
	case code == "503": // no responders: JetStream or the consumer is not there
		st.ended(id, 0, false)
		st.pause(now)
		st.probe = true
	default: // a request refused, or ended early: ask again after a pause
		st.ended(id, pending, known)
		st.pause(now)
	}
	st.mu.Unlock()
	st.s.log.Debug("herald/"+st.s.scheme+": pull request answered with a status", "topic", st.topic, "status", code, "description", desc)
	st.signal(st.wake)
}

// housekeep forgets the requests past their expiry (they ended with
// their batch full, silently), and all of them when the stream awaits
// messages and nothing came for pullSilence; st.mu is held. It reports
// whether that happened.
func (st *Stream) housekeep(now time.Time) bool {
	for id, r := range st.reqs {
		if now.After(r.expires) {
			delete(st.reqs, id)
		}
	}
	if st.asked > 0 && now.Sub(st.seen) > pullSilence {
		st.dropRequests()
		return true
	}
	return false
}
