package rabbitmq

import (
	"math/rand/v2"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// connection is one AMQP connection that redials with exponential backoff
// (100ms growing to reconnect_max, with jitter) whenever it closes, until
// Close. Users take the current connection with get and open their
// channels on it; after a loss they call get again.
//
// It plays the role of watermill-amqp's ConnectionWrapper, which Herald
// does not use because its reconnect loop replaces the connection without
// synchronisation (a data race under -race with any concurrent user,
// ThreeDotsLabs/watermill#693).
type connection struct {
	s *settings

	mu      sync.Mutex // guards conn and closed
	conn    *amqp.Connection
	closed  bool
	closing chan struct{}
}

// dial connects, failing at once if the broker cannot be reached, and
// starts the reconnect loop.
func dial(s *settings) (*connection, error) {
	conn, err := amqp.DialConfig(s.uri, s.amqpConfig)
	if err != nil {
		return nil, connectError(s, err)
	}
	c := &connection{s: s, conn: conn, closing: make(chan struct{})}
	go c.watch(conn)
	return c, nil
}

// get returns the current connection, or errNotConnected while it is
// being re-established, or errClosed.
func (c *connection) get() (*amqp.Connection, error) {
	c.mu.Lock()
	conn, closed := c.conn, c.closed
	c.mu.Unlock()
	if closed {
		return nil, errClosed
	}
	if conn.IsClosed() {
		return nil, errNotConnected
	}
	return conn, nil
}

// watch waits for conn to close and redials until it succeeds or Close is
// called.
func (c *connection) watch(conn *amqp.Connection) {
	for {
		select {
		case <-conn.NotifyClose(make(chan *amqp.Error, 1)):
		case <-c.closing:
			return
		}
		delay := 100 * time.Millisecond
		for {
			// Full jitter in [delay/2, delay) keeps many clients from
			// redialling a restarted broker in lockstep.
			wait := delay/2 + rand.N(delay/2)
			select {
			case <-time.After(wait):
			case <-c.closing:
				return
			}
			next, err := amqp.DialConfig(c.s.uri, c.s.amqpConfig)
			if err == nil {
				conn = next
				break
			}
			delay = min(delay*3/2, c.s.reconnectMax)
		}
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			_ = conn.Close()
			return
		}
		c.conn = conn
		c.mu.Unlock()
	}
}

// Close stops reconnecting and closes the connection. It is idempotent.
func (c *connection) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.closing)
	conn := c.conn
	c.mu.Unlock()
	if conn.IsClosed() {
		return nil
	}
	return conn.Close()
}
