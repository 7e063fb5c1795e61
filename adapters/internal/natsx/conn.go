package natsx

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// ConnWatch follows a connection's state through nats.go's handlers: it
// logs a lost connection at debug level and the reconnect at info level
// (outages are logged once, at warn level, by the publisher and
// subscriber from what the driver reports), lets waiters block until the
// connection is up, and tells listeners (topics and streams) about each
// change.
type ConnWatch struct {
	nc     *nats.Conn
	log    *slog.Logger
	prefix string // "herald/<scheme>"
	role   string // "publisher" or "subscriber"

	closing atomic.Bool // set by our own Close: stay quiet

	mu        sync.Mutex
	lastAsync string        // the last asynchronous error logged
	lastAt    time.Time     // and when
	up        chan struct{} // closed while connected
	listeners map[int]func(err error)
	next      int
}

// NewConnWatch installs the handlers on nc; role ("topic",
// "subscription") goes into the log lines, log receives them.
func NewConnWatch(nc *nats.Conn, log *slog.Logger, scheme, role string) *ConnWatch {
	w := &ConnWatch{nc: nc, log: log, prefix: "herald/" + scheme, role: role, up: make(chan struct{}), listeners: map[int]func(error){}}
	if nc.IsConnected() {
		close(w.up)
	}
	nc.SetDisconnectErrHandler(w.disconnected)
	nc.SetReconnectHandler(w.reconnected)
	nc.SetClosedHandler(w.closed)
	nc.SetErrorHandler(w.asyncError)
	return w
}

// Up returns a channel closed while the connection is up. nats.go
// reports a disconnect through a callback that can come after
// IsConnected turned false: until then the channel of the last
// connection would still be closed, and a publish in that moment would
// go to nats.go's reconnect buffer instead of waiting. So Up checks the
// connection itself.
func (w *ConnWatch) Up() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.nc.IsConnected() {
		select {
		case <-w.up:
			w.up = make(chan struct{}) // closed by reconnected
		default:
		}
	}
	return w.up
}

// Listen registers fn, called with the cause when the connection is lost
// and with nil when it is back; the returned func unregisters it.
func (w *ConnWatch) Listen(fn func(err error)) func() {
	w.mu.Lock()
	id := w.next
	w.next++
	w.listeners[id] = fn
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		delete(w.listeners, id)
		w.mu.Unlock()
	}
}

func (w *ConnWatch) notify(err error) {
	w.mu.Lock()
	fns := make([]func(error), 0, len(w.listeners))
	for _, fn := range w.listeners {
		fns = append(fns, fn)
	}
	w.mu.Unlock()
	for _, fn := range fns {
		fn(err)
	}
}

// errConnectionLost is the cause given when nats.go reports no error.
var errConnectionLost = errors.New("connection to the NATS server lost")

func (w *ConnWatch) disconnected(_ *nats.Conn, err error) {
	if w.closing.Load() {
		return
	}
	if err == nil {
		err = errConnectionLost
	}
	w.mu.Lock()
	select {
	case <-w.up:
		w.up = make(chan struct{})
	default:
	}
	w.mu.Unlock()
	w.log.Debug(w.prefix+": connection lost; reconnecting", "role", w.role, "err", err)
	w.notify(fmt.Errorf("%w: %w", nats.ErrDisconnected, err))
}

func (w *ConnWatch) reconnected(nc *nats.Conn) {
	w.mu.Lock()
	select {
	case <-w.up:
	default:
		close(w.up)
	}
	w.mu.Unlock()
	w.log.Info(w.prefix+": reconnected", "role", w.role, "server", nc.ConnectedUrlRedacted())
	w.notify(nil)
}

func (w *ConnWatch) closed(nc *nats.Conn) {
	if w.closing.Load() {
		return
	}
	err := nc.LastError()
	if err == nil {
		err = nats.ErrConnectionClosed
	}
	w.log.Info(w.prefix+": connection closed for good (no more reconnect attempts: see max_reconnects)", "role", w.role, "err", err)
	w.notify(fmt.Errorf("%w: %w", nats.ErrConnectionClosed, err))
}

// asyncError logs errors nats.go reports outside any call: a permission
// violation, a slow consumer.
func (w *ConnWatch) asyncError(_ *nats.Conn, sub *nats.Subscription, err error) {
	if w.closing.Load() {
		return
	}
	subject := ""
	if sub != nil {
		subject = sub.Subject
	}
	// Once per kind of error and minute: a revoked permission fails every
	// pull request.
	w.mu.Lock()
	repeat := err.Error() == w.lastAsync && time.Since(w.lastAt) < time.Minute
	if !repeat {
		w.lastAsync, w.lastAt = err.Error(), time.Now()
	}
	w.mu.Unlock()
	if errors.Is(err, nats.ErrPermissionViolation) {
		w.notify(err)
	}
	if repeat {
		return
	}
	w.log.Debug(w.prefix+": asynchronous error from the NATS connection", "role", w.role, "subject", subject, "err", err)
}

// Closing silences the handlers: call it before closing the connection
// on purpose.
func (w *ConnWatch) Closing() { w.closing.Store(true) }
