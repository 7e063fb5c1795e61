package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/publisher"
)

// Relay forwards the committed rows of a Store's outbox to a publisher,
// and marks each row sent only once the broker acknowledged it (done(nil)
// of PublishAsync): at-least-once, a row is sent again when its relay dies
// between the acknowledgement and the mark.
//
// Per-key order: a row with a key is claimed only once every earlier row
// of its key was acknowledged and marked sent, so a key has at most one
// row in flight, across all relays; rows of different keys, and rows
// without a key (no order), are pipelined up to the batch (WithBatch). A
// delayed row (Store.PublishAt) enters the outbox when due, and takes its
// key's order from then.
//
// Several relays (processes) may share one table: each claims ready rows
// with a lease (a row's lease_owner and lease_until; on PostgreSQL with
// FOR UPDATE SKIP LOCKED), so no two relays hold a valid lease on a row at
// once and a relay never starts sending a row whose lease it does not
// hold; the relay renews the leases of the rows it waits on, however
// slow the broker's answer; rows leased by a relay that died are claimed
// by another once the lease expired (WithLease). Rows are taken by their
// state (unsent), not behind a cursor, so a row whose transaction commits
// late is never skipped.
type Relay struct {
	s          *Store
	pub        *publisher.Publisher
	owner      string
	batch      int
	lease      time.Duration
	poll       time.Duration
	retention  time.Duration
	retryDelay time.Duration
	notifier   Notifier
	onError    func(error)
	logger     *slog.Logger

	running  atomic.Bool
	relayed  atomic.Int64
	failures atomic.Int64
	inflight atomic.Int64

	hookMu sync.Mutex // one onError call at a time
	// writeMu serializes the statements that update rows this relay
	// holds (mark, release, renew): two of them on overlapping rows
	// could lock the rows in different orders and deadlock.
	writeMu sync.Mutex
	mu      sync.Mutex
	failing bool // a failure was logged at warn and no success since
	quiet   int  // failures since, logged at debug
}

// NewRelay returns a relay from s's outbox to pub.
func (s *Store) NewRelay(pub *publisher.Publisher, opts ...RelayOption) (*Relay, error) {
	if pub == nil {
		return nil, &herald.ConfigError{Key: "outbox.NewRelay", Problem: "publisher is nil"}
	}
	r := &Relay{
		s: s, pub: pub, owner: herald.NewID(),
		batch: DefaultBatch, lease: DefaultLease, poll: DefaultPollInterval,
		retention: DefaultRetention, retryDelay: DefaultRetryDelay,
		logger: herald.DefaultLogger(),
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(r); err != nil {
			return nil, err
		}
	}
	r.logger = r.logger.With("table", s.table, "relay", r.owner)
	return r, nil
}

// Run relays rows until ctx is done: it moves the delayed rows that came
// due into the outbox (Store.PublishAt), claims what is ready, publishes
// it, marks what was acknowledged, and waits for a Notifier, the poll
// interval or the next delayed row's due time when nothing is ready.
// When ctx is done it stops claiming, waits for the publishes in flight
// and marks those acknowledged, then returns nil. Failures do not stop it (they are retried, logged and
// passed to the OnError hook). A Relay runs once at a time.
func (r *Relay) Run(ctx context.Context) error {
	_, err := r.loop(ctx, false)
	if errors.Is(err, errRunning) {
		return err
	}
	return nil
}

// RunOnce relays the rows ready now (delayed rows due now included): it
// claims and publishes until no row is ready and none is in flight, and
// returns how many rows it marked sent, and the first failure.
func (r *Relay) RunOnce(ctx context.Context) (int, error) {
	return r.loop(ctx, true)
}

// row is a claimed outbox row.
type row struct {
	seq     int64
	id      string
	topic   string
	key     string
	headers string
	payload []byte
	created any
}

// answer is a publish's result.
type answer struct {
	seq int64
	err error
}

// wakeDueEvery bounds how often a relay woken by its Notifier looks for
// delayed rows: a delayed row committed meanwhile, due sooner than this,
// is moved at most this late.
const wakeDueEvery = 20 * time.Millisecond

// errRunning refuses a second Run of one Relay.
var errRunning = errors.New("outbox: this relay is already running")

func (r *Relay) loop(ctx context.Context, once bool) (int, error) {
	if !r.running.CompareAndSwap(false, true) {
		return 0, errRunning
	}
	defer r.running.Store(false)
	// Marks outlive ctx: a row acknowledged while stopping is still marked.
	settle := context.WithoutCancel(ctx)
	answers := make(chan answer, r.batch) // never more than batch in flight
	var wake chan struct{}
	if r.notifier != nil && !once {
		wake = make(chan struct{}, 1)
		nctx, cancel := context.WithCancel(ctx)
		var listening sync.WaitGroup
		listening.Go(func() { r.listen(nctx, wake) })
		defer listening.Wait() // Run returns once the Notifier's Wait did
		defer cancel()
	}
	var (
		firstMu sync.Mutex
		first   error
	)
	fail := func(err error) {
		firstMu.Lock()
		if first == nil {
			first = err
		}
		firstMu.Unlock()
		r.fail(err)
	}
	// The leases of the rows in flight are renewed while their broker's
	// answer is awaited, however long that takes.
	h := newHeld()
	stopRenew := make(chan struct{})
	var renewing sync.WaitGroup
	renewing.Go(func() { r.renewLoop(settle, h, stopRenew, fail) })
	defer renewing.Wait()
	defer close(stopRenew)
	// The answers are settled (marked, given back) by a goroutine of their
	// own, so that a mark and the next claim run at once. A row counts in
	// r.inflight from its publish until it is settled.
	r.inflight.Store(0)
	settled := make(chan struct{}, 1)
	stopSettling := make(chan struct{})
	var marked atomic.Int64
	var settling sync.WaitGroup
	settling.Go(func() { r.settleLoop(settle, h, answers, settled, stopSettling, &marked, fail) })
	nextPurge := time.Now()
	stop := false // RunOnce after a failure: only settle what is in flight
	// room: a claim is worth its query when nothing is in flight or a
	// quarter of the window is free. A claim scans past the rows in flight
	// (the oldest unsent), so claiming a few rows at a time into a nearly
	// full window costs a full scan for each few rows.
	room := func() bool {
		n := int(r.inflight.Load())
		return n == 0 || r.batch-n >= max(r.batch/4, 1)
	}
	// checkAt is when to move due delayed rows into the outbox next: the
	// earliest due time known, at most the poll interval away; zero: at
	// once (the start). A Notifier's wake-up (a row of either table
	// committed) brings it forward to wakeDueEvery after the last look:
	// under a stream of commits, one wake-up per commit, the delayed rows
	// are looked at every wakeDueEvery, not before every claim.
	var checkAt, checkedAt time.Time
	woken := func() {
		if at := checkedAt.Add(wakeDueEvery); checkAt.After(at) {
			checkAt = at
		}
	}
	for {
		claimed := 0
		// Rows settled during the claim may have made others ready (a
		// key's next row): nothing is ready only if nothing was in flight
		// before the claim found none.
		quiet := r.inflight.Load() == 0
		if !stop && ctx.Err() == nil && !time.Now().Before(checkAt) {
			at, err := r.moveDue(ctx)
			checkAt, checkedAt = at, time.Now()
			if err != nil && ctx.Err() == nil {
				fail(err)
				stop = once
			}
		}
		if !stop && ctx.Err() == nil && room() {
			n, err := r.claimSend(ctx, h, r.batch-int(r.inflight.Load()), answers)
			claimed = n
			if err != nil && ctx.Err() != nil {
				err = nil // stopping: what was not sent stays for later
			}
			if err != nil {
				fail(err)
				stop = once
				if !once && r.inflight.Load() == 0 {
					sleep(ctx, r.retryDelay)
					continue
				}
			}
		}
		// Sent rows past the retention are deleted busy or idle: a relay
		// that always has rows in flight purges too.
		if !once && ctx.Err() == nil && time.Now().After(nextPurge) {
			r.purge(settle, fail)
			nextPurge = time.Now().Add(r.purgeEvery())
		}
		if r.inflight.Load() == 0 {
			if once && (stop || claimed == 0 && quiet) || ctx.Err() != nil {
				break
			}
			if claimed > 0 || !quiet {
				continue
			}
			if r.idle(ctx, wake, checkAt) {
				woken()
			}
			continue
		}
		// Wait until answers were settled (or, with room in the window, a
		// wake-up: more rows to claim; or delayed rows came due).
		wakeIfRoom := wake
		if !room() {
			wakeIfRoom = nil
		}
		var due <-chan time.Time // none once stopping: nothing more is moved
		stopDue := func() bool { return false }
		if !stop && ctx.Err() == nil {
			due, stopDue = timerAt(checkAt)
		}
		select {
		case <-settled:
		case <-wakeIfRoom:
			woken()
		case <-due:
		}
		stopDue()
	}
	close(stopSettling) // nothing in flight: every answer was settled
	settling.Wait()
	firstMu.Lock()
	defer firstMu.Unlock()
	return int(marked.Load()), first
}

// settleLoop settles the answers as they come: it takes every answer
// there, settles them together, and signals settled; a mark that failed is
// tried again with the next answers or after the retry delay, and once
// more when stop is closed (then it returns).
func (r *Relay) settleLoop(ctx context.Context, h *held, answers <-chan answer, settled chan<- struct{}, stop <-chan struct{}, marked *atomic.Int64, fail func(error)) {
	var unmarked []int64 // acknowledged, their mark failed
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		var got []answer
		select {
		case a := <-answers:
			got = append(got, a)
		case <-retry.C:
		case <-stop:
			if len(unmarked) > 0 { // a last try; else sent again once the lease expired
				marked.Add(int64(r.settle(ctx, h, nil, &unmarked, fail)))
			}
			return
		}
	drain:
		for {
			select {
			case a := <-answers:
				got = append(got, a)
			default:
				break drain
			}
		}
		marked.Add(int64(r.settle(ctx, h, got, &unmarked, fail)))
		select {
		case settled <- struct{}{}:
		default:
		}
		if len(unmarked) > 0 {
			retry.Reset(r.retryDelay)
		}
	}
}

// claimSend claims up to n ready rows, adds them to h and publishes them;
// it returns how many publishes it started (each sends one answer).
func (r *Relay) claimSend(ctx context.Context, h *held, n int, answers chan<- answer) (int, error) {
	d := r.s.dialect
	start := time.Now()
	var claimed []row
	err := r.s.contend(ctx, d.claim(r.s.table), func(st stmt) error {
		claimed = claimed[:0]
		rows, err := st.QueryContext(ctx, d.claimArgs(r.owner, start, r.lease, n)...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var w row
			if err := rows.Scan(&w.seq, &w.id, &w.topic, &w.key, &w.headers, &w.payload, &w.created); err != nil {
				rows.Close()
				return err
			}
			claimed = append(claimed, w)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		return rows.Err()
	})
	if err != nil {
		return 0, fmt.Errorf("outbox: claim rows of %s: %w", r.s.table, err)
	}
	// The lease ends lease after the claim on the database's clock, which
	// read its clock after start: start+lease is never later. Renewals
	// push it on (h).
	h.add(claimed, start.Add(r.lease))
	started := 0
	for i, w := range claimed {
		msg, err := w.message()
		if err == nil && !h.valid(w.seq) {
			err = fmt.Errorf("outbox: row %d of %s: lease expired before it was sent", w.seq, r.s.table)
		}
		if err == nil {
			seq := w.seq
			r.inflight.Add(1) // before done can be called
			err = r.pub.PublishAsync(ctx, w.topic, msg, func(_ *herald.Message, err error) {
				answers <- answer{seq: seq, err: err}
			})
			if err != nil {
				r.inflight.Add(-1)
			}
		}
		if err != nil {
			// Not taken: the rest of the batch goes back too.
			for _, x := range claimed[i:] {
				h.remove(x.seq)
				r.release(context.WithoutCancel(ctx), x.seq, 0)
			}
			return started, fmt.Errorf("outbox: publish row %d of %s to %s: %w", w.seq, r.s.table, w.topic, err)
		}
		started++
	}
	return started, nil
}

// message rebuilds the message of row w.
func (w row) message() (*herald.Message, error) {
	msg := message.NewMessage(w.id, w.payload)
	if w.headers != "" && w.headers != "{}" {
		if err := json.Unmarshal([]byte(w.headers), &msg.Metadata); err != nil {
			return nil, fmt.Errorf("outbox: row %d: headers: %w", w.seq, err)
		}
	}
	if w.key != "" {
		herald.SetKey(msg, w.key)
	}
	return msg, nil
}

// settle gives the failed rows of got back for a retry after the retry
// delay, and marks the acknowledged ones sent, with those whose mark
// failed before (*unmarked); it returns how many rows it marked and
// leaves in *unmarked those it could not mark. A failed row leaves h
// before it is given back, so that no renewal extends it; an
// acknowledged one once it is marked: until then its lease is renewed.
func (r *Relay) settle(ctx context.Context, h *held, got []answer, unmarked *[]int64, fail func(error)) int {
	defer r.inflight.Add(-int64(len(got))) // settled: the claims may go on
	ok := *unmarked
	failed := 0
	for _, a := range got {
		if a.err == nil {
			ok = append(ok, a.seq)
			continue
		}
		failed++
		h.remove(a.seq)
		fail(fmt.Errorf("outbox: publish row %d of %s: %w", a.seq, r.s.table, a.err))
		r.release(ctx, a.seq, r.retryDelay)
	}
	d := r.s.dialect
	marked := 0
	for len(ok) > 0 {
		n := min(len(ok), maxInsert)
		q, args := d.mark(r.s.table, time.Now(), ok[:n], r.retention == 0)
		r.writeMu.Lock()
		err := r.s.contendExec(ctx, q, args...)
		r.writeMu.Unlock()
		if err != nil {
			fail(fmt.Errorf("outbox: mark %d rows of %s sent (tried again after the retry delay): %w", n, r.s.table, err))
			break
		}
		for _, seq := range ok[:n] {
			h.remove(seq)
		}
		r.relayed.Add(int64(n))
		marked += n
		ok = ok[n:]
	}
	*unmarked = ok
	if failed == 0 && len(ok) == 0 && marked > 0 {
		r.recovered()
	}
	return marked
}

// release ends this relay's lease on row seq after delay.
func (r *Relay) release(ctx context.Context, seq int64, delay time.Duration) {
	q, args := r.s.dialect.release(r.s.table, time.Now(), delay, seq, r.owner)
	r.writeMu.Lock()
	err := r.s.contendExec(ctx, q, args...)
	r.writeMu.Unlock()
	if err != nil {
		r.logger.Debug("outbox: release a lease", "seq", seq, "error", err)
	}
}

// purge deletes the rows sent longer ago than the retention.
func (r *Relay) purge(ctx context.Context, fail func(error)) {
	if r.retention == 0 {
		return
	}
	q, args := r.s.dialect.purge(r.s.table, time.Now(), r.retention)
	err := r.s.contendExec(ctx, q, args...)
	if err != nil {
		fail(fmt.Errorf("outbox: delete sent rows of %s: %w", r.s.table, err))
	}
}

// purgeEvery is how often a relay deletes old sent rows: a tenth
// of the retention, between 1 s and 1 min.
func (r *Relay) purgeEvery() time.Duration {
	return min(max(r.retention/10, time.Second), time.Minute)
}

// idle waits for a wake-up, the poll interval, until (when sooner: the
// next delayed row's due time) or ctx; it reports whether a wake-up
// ended it.
func (r *Relay) idle(ctx context.Context, wake <-chan struct{}, until time.Time) bool {
	d := r.poll
	if !until.IsZero() {
		d = min(d, max(time.Until(until), 0))
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-wake:
		return true
	}
	return false
}

// listen turns the Notifier's wake-ups into sends on wake.
func (r *Relay) listen(ctx context.Context, wake chan<- struct{}) {
	for ctx.Err() == nil {
		if err := r.notifier.Wait(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			r.logger.Debug("outbox: notifier", "error", err)
			sleep(ctx, r.retryDelay)
		}
		select {
		case wake <- struct{}{}:
		default:
		}
	}
}

// sleep waits d or until ctx is done; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
