package rabbitmq

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/internal/backoff"
)

// closeTimeout bounds how long closing a connection waits for the
// broker's answer (a broker behind a black hole never answers).
const closeTimeout = time.Second

// connection is one AMQP connection that redials with exponential backoff
// (100ms growing to reconnect_max, with jitter) whenever it closes, until
// Close. Users take the current connection with get (or wait for one with
// wait) and open their channels on it; after a loss they call it again.
// A loss and the recovery are logged at info level (the facade logs
// outages once, from the errors and statuses it gets).
//
// It plays the role of watermill-amqp's ConnectionWrapper, which Herald
// does not use because its reconnect loop replaces the connection without
// synchronisation (a data race under -race with any concurrent user,
// ThreeDotsLabs/watermill#693).
type connection struct {
	s   *settings
	log *slog.Logger

	mu       sync.Mutex
	conn     *amqp.Connection // nil while reconnecting
	changed  chan struct{}    // closed (and replaced) whenever conn changes
	lastErr  error            // why conn is nil
	frameMax int              // negotiated frame_max of the last connection
	hostIdx  int              // index in s.hosts of the host conn goes to (written by watch)
	closed   bool
	waiters  int // calls blocked in wait (for tests)

	ctx    context.Context // cancelled by Close: interrupts redialling
	cancel context.CancelFunc
	done   chan struct{} // closed when watch returned
}

// dial connects within ctx, failing if the broker cannot be reached, and
// starts the reconnect loop, which logs to log.
func dial(ctx context.Context, s *settings, log *slog.Logger) (*connection, error) {
	conn, idx, err := dialFrom(ctx, s, 0)
	if err != nil {
		return nil, err
	}
	c := &connection{
		s:        s,
		log:      log,
		conn:     conn,
		changed:  make(chan struct{}),
		frameMax: conn.Config.FrameSize,
		hostIdx:  idx,
		done:     make(chan struct{}),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	go c.watch(conn)
	return c, nil
}

// get returns the current connection without waiting: an error of
// KindUnreachable while it is being re-established, or of KindClosed.
func (c *connection) get() (*amqp.Connection, error) {
	c.mu.Lock()
	conn, closed, last := c.conn, c.closed, c.lastErr
	c.mu.Unlock()
	switch {
	case closed:
		return nil, errClosed
	case conn == nil || conn.IsClosed():
		if last == nil {
			return nil, withKind(herald.KindUnreachable, errNotConnected)
		}
		return nil, withKind(herald.KindUnreachable, fmt.Errorf("%w: %w", errNotConnected, last))
	}
	return conn, nil
}

// wait returns the current connection, waiting for the reconnect while
// there is none, until ctx ends (KindUnreachable, wrapping ctx's cause),
// abort is closed or the connection is closed (KindClosed).
func (c *connection) wait(ctx context.Context, abort <-chan struct{}) (*amqp.Connection, error) {
	for {
		c.mu.Lock()
		conn, changed, closed, last := c.conn, c.changed, c.closed, c.lastErr
		c.mu.Unlock()
		if closed {
			return nil, errClosed
		}
		if conn != nil && !conn.IsClosed() {
			return conn, nil
		}
		// Closed but not yet noticed by watch: it will signal changed.
		c.addWaiter(1)
		select {
		case <-changed:
		case <-ctx.Done():
			c.addWaiter(-1)
			return nil, unreachable(ctx, last)
		case <-abort:
			c.addWaiter(-1)
			return nil, errClosed
		}
		c.addWaiter(-1)
	}
}

func (c *connection) addWaiter(n int) {
	c.mu.Lock()
	c.waiters += n
	c.mu.Unlock()
}

// maxFrame is the frame_max negotiated with the broker (0: unknown).
func (c *connection) maxFrame() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.frameMax
}

// set records conn (nil: lost, for cause) and wakes the waiters.
func (c *connection) set(conn *amqp.Connection, cause error) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.conn, c.lastErr = conn, cause
	if conn != nil {
		c.frameMax = conn.Config.FrameSize
	}
	close(c.changed)
	c.changed = make(chan struct{})
	return true
}

// watch waits for conn to close and redials until it succeeds or Close is
// called.
func (c *connection) watch(conn *amqp.Connection) {
	defer close(c.done)
	for {
		var cause error = errNotConnected
		select {
		case e, ok := <-conn.NotifyClose(make(chan *amqp.Error, 1)):
			if ok && e != nil {
				cause = e
			}
		case <-c.ctx.Done():
			return
		}
		if !c.set(nil, cause) {
			return
		}
		lostAt := time.Now()
		lost := c.s.hosts[c.hostIdx]
		c.log.Info(fmt.Sprintf("herald/%s: connection to %s lost; reconnecting", c.s.scheme, lost),
			"host", lost, "vhost", c.s.vhost, "cause", cause.Error())
		// Jitter keeps many clients from redialling a restarted broker in
		// lockstep.
		retry := backoff.Policy{Base: 100 * time.Millisecond, Limit: c.s.reconnectMax, Jitter: true}.Start()
		for {
			if !backoff.Wait(c.ctx, retry.Next()) {
				return
			}
			// With several hosts (a cluster), the next one first: the
			// lost node may be down for a while.
			next, idx, err := dialFrom(c.ctx, c.s, (c.hostIdx+1)%len(c.s.hosts))
			if err == nil {
				conn = next
				c.mu.Lock()
				c.hostIdx = idx
				c.mu.Unlock()
				break
			}
			c.mu.Lock()
			c.lastErr = err
			c.mu.Unlock()
			c.log.Debug(fmt.Sprintf("herald/%s: reconnect to %s failed", c.s.scheme, c.s.host), "cause", err.Error())
		}
		if !c.set(conn, nil) {
			_ = conn.CloseDeadline(time.Now().Add(closeTimeout))
			return
		}
		now := c.s.hosts[c.hostIdx]
		c.log.Info(fmt.Sprintf("herald/%s: reconnected to %s", c.s.scheme, now),
			"host", now, "vhost", c.s.vhost, "down", time.Since(lostAt).Round(time.Millisecond).String())
	}
}

// Close stops reconnecting and closes the connection, waiting at most
// closeTimeout for the broker. It is idempotent.
func (c *connection) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.cancel()
	close(c.changed)
	conn := c.conn
	c.mu.Unlock()
	<-c.done
	if conn == nil || conn.IsClosed() {
		return nil
	}
	_ = conn.CloseDeadline(time.Now().Add(closeTimeout))
	return nil
}
