package kafka

import (
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Kafka request keys the session watches.
const (
	keyJoinGroup = 11
	keyHeartbeat = 12
	keySyncGroup = 14
)

// joinAlive is how long a join or sync in flight keeps the member alive
// on the broker: franz-go's rebalance timeout (its default, 60 s).
const joinAlive = 60 * time.Second

// session tells whether the broker may have expired the member. The
// group coordinator expires a member that sent no heartbeat for
// session_timeout (one waiting in a join or sync is kept alive, up to the
// rebalance timeout); the member finds out only at its next answered
// heartbeat, and cannot while the coordinator is unreachable, while its
// partitions may already be another member's. The stream checks it (see
// stream.expire): once the broker may have expired the member, its
// deliveries are no longer Valid and the stream breaks, so that the
// facade opens a new member, which resumes from the group's commits. It
// is a kgo hook of the stream's client.
type session struct {
	timeout time.Duration

	mu       sync.Mutex
	alive    time.Time // when the last answered heartbeat, join or sync was sent
	joining  int       // joins and syncs written and not answered
	joinSent time.Time // when the last of them was written
}

var (
	_ kgo.HookBrokerWrite = (*session)(nil)
	_ kgo.HookBrokerRead  = (*session)(nil)
)

func newSession(timeout time.Duration) *session {
	return &session{timeout: timeout, alive: time.Now()}
}

// OnBrokerWrite implements kgo.HookBrokerWrite: a join or sync written
// keeps the member alive until it is answered.
func (ss *session) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if err == nil && (key == keyJoinGroup || key == keySyncGroup) {
		ss.mu.Lock()
		ss.joining++
		ss.joinSent = time.Now()
		ss.mu.Unlock()
	}
}

// OnBrokerRead implements kgo.HookBrokerRead: an answered heartbeat shows
// the member alive when it was sent (the broker restarts its timer on
// receipt), an answered join or sync when it was answered (the broker
// restarts it on completing the join, which can take the rebalance).
func (ss *session) OnBrokerRead(_ kgo.BrokerMetadata, key int16, _ int, readWait, timeToRead time.Duration, err error) {
	if key != keyJoinGroup && key != keySyncGroup && key != keyHeartbeat {
		return
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if key != keyHeartbeat && ss.joining > 0 {
		ss.joining--
	}
	if err != nil {
		return
	}
	at := time.Now().Add(-timeToRead)
	if key == keyHeartbeat {
		at = at.Add(-readWait)
	}
	if at.After(ss.alive) {
		ss.alive = at
	}
}

// expired reports whether the broker may have expired the member (a
// tenth of session_timeout, at most a second, early: the broker's clock
// starts when it receives a heartbeat, after it was sent), and for how
// long no heartbeat was answered.
func (ss *session) expired() (bool, time.Duration) {
	if ss == nil {
		return false, 0
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.joining > 0 && time.Since(ss.joinSent) < joinAlive {
		return false, 0
	}
	since := time.Since(ss.alive)
	return since >= ss.timeout-min(ss.timeout/10, time.Second), since
}
