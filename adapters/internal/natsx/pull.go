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
// alive (issue 14, item 5). Each request has its own reply subject
// (<inbox>.<id>), so every status the server sends is matched to its
// request.
const (
	// pullExpires is how long a request waits at the server for messages.
	pullExpires = 30 * time.Second
	// pullHeartbeat is the server's idle heartbeat on a waiting request;
	// a request silent for pullSilence is taken as lost (a partition, a
	// server restart the client did not notice yet).
	pullHeartbeat = 5 * time.Second
	pullSilence   = 2*pullHeartbeat + time.Second
	// After an abnormal answer (no responders, a leadership change) the
	// next request waits from minPullWait, doubling to maxPullWait.
	minPullWait = 100 * time.Millisecond
	maxPullWait = 2 * time.Second
)

// pullRequest is one pull request waiting at the server.
type pullRequest struct {
	left    int       // messages still to come
	expires time.Time // when the server ends it at the latest
	seen    time.Time // its last message or heartbeat
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

// requestID is the request a message or status sent to subject answers
// (0 when subject is not <inbox><id>).
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
// when none is due: the stream asks for at most its window minus what it
// holds and what it asked for already, and only for half its window or
// more unless nothing is asked (so requests are not one message each).
// st.mu is held.
func (st *Stream) plan(now time.Time) (uint64, int) {
	if st.closed || st.err != nil || now.Before(st.pullPause) || !st.nc.IsConnected() {
		return 0, 0
	}
	room := st.window - st.held - st.asked
	if room <= 0 || (st.asked > 0 && room < max(1, st.window/2)) {
		return 0, 0
	}
	st.reqSeq++
	st.reqs[st.reqSeq] = &pullRequest{left: room, expires: now.Add(pullExpires + pullSilence), seen: now}
	st.asked += room
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
		st.end(id)
		st.pause(time.Now())
		st.mu.Unlock()
	}
}

// pull sends a pull request when one is due.
func (st *Stream) pull() {
	st.mu.Lock()
	id, n := st.plan(time.Now())
	st.mu.Unlock()
	st.request(id, n)
}

// end forgets request id; st.mu is held.
func (st *Stream) end(id uint64) {
	if r, ok := st.reqs[id]; ok {
		st.asked -= r.left
		delete(st.reqs, id)
	}
}

// dropRequests forgets every request (the server lost them: a reconnect);
// st.mu is held.
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

// arrived counts a message or heartbeat of request id; st.mu is held.
func (st *Stream) arrived(id uint64, now time.Time, msg bool) {
	r, ok := st.reqs[id]
	if !ok {
		return
	}
	r.seen = now
	st.pullWait = minPullWait
	if !msg {
		return
	}
	r.left--
	st.asked--
	if r.left <= 0 {
		delete(st.reqs, id)
	}
}

// onStatus handles a status the server sent for request id: a heartbeat,
// the request's end, or a problem with the consumer.
func (st *Stream) onStatus(id uint64, m *nats.Msg) {
	code, desc := m.Header.Get("Status"), m.Header.Get("Description")
	now := time.Now()
	st.mu.Lock()
	switch code {
	case "100": // idle heartbeat
		st.arrived(id, now, false)
		recovered := st.healthy()
		st.mu.Unlock()
		if recovered {
			st.report(nil)
		}
		return
	case "404", "408": // no messages, request expired: ask again
		st.end(id)
		recovered := st.healthy()
		next, n := st.plan(now)
		st.mu.Unlock()
		if recovered {
			st.report(nil)
		}
		st.request(next, n)
		return
	case "409":
		if strings.Contains(strings.ToLower(desc), "consumer deleted") {
			st.breakLocked(errConsumerDeleted)
			st.mu.Unlock()
			st.signal(st.ready)
			return
		}
		// Leadership change, server shutdown, a server limit: ask again
		// after a pause.
		st.end(id)
		st.pause(now)
	case "503": // no responders: JetStream or the consumer is not there
		st.end(id)
		st.pause(now)
		st.probe = true
	default:
		st.end(id)
		st.pause(now)
		st.probe = true
	}
	st.mu.Unlock()
	st.s.log.Debug("herald/"+st.s.scheme+": pull request answered with a status", "topic", st.topic, "status", code, "description", desc)
	st.signal(st.wake)
}

// housekeep forgets the requests the server no longer answers (expired,
// or silent past their heartbeat); st.mu is held. It reports whether one
// was silent.
func (st *Stream) housekeep(now time.Time) bool {
	silent := false
	for id, r := range st.reqs {
		switch {
		case now.After(r.expires):
			st.end(id)
		case now.Sub(r.seen) > pullSilence:
			st.end(id)
			silent = true
		}
	}
	return silent
}
