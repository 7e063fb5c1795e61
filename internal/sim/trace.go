package sim

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// What names an event of a Trace. The simulator's own are the constants
// below; a test adds its own (any string).
type What string

// The simulator's events.
const (
	Sent       What = "sent"        // Send took a message (Msg, Key)
	Refused    What = "refused"     // Send returned an error (Err)
	Written    What = "written"     // written to the broker (Note: stored or lost)
	Answered   What = "answered"    // done was called (Err)
	Delivered  What = "delivered"   // a delivery (Msg, Key, Del, Stream, Note: attempt)
	Invalid    What = "invalid"     // a delivery's token turned invalid (Del, Note: why)
	AckCalled  What = "ack"         // the facade called Ack (Del)
	AckApplied What = "ack-applied" // the broker took the ack (Del)
	AckLost    What = "ack-lost"    // the ack came after the delivery turned invalid
	NackCalled What = "nack"        // the facade called Nack (Del, Note: delay)
	Requeued   What = "requeued"    // a message is ready for delivery again (Msg)
	Opened     What = "open"        // a stream opened (Stream, Note: window)
	Broke      What = "break"       // a stream broke (Stream)
	Closed     What = "close"       // a stream closed (Stream)
	Status     What = "status"      // Status was called (Stream, Err)
	Outage     What = "outage"      // a publish outage began (Note: how long)
	Violation  What = "VIOLATION"   // a use of the driver the contract forbids (Note)
)

// Event is one line of a Trace.
type Event struct {
	Seq    int           // order of the event in the trace
	At     time.Duration // time since the broker was made (fake time in a bubble)
	What   What
	Msg    string // message ID
	Key    string // ordering key
	Del    uint64 // delivery number (0: none)
	Stream int    // stream number (0: none)
	Err    error
	Note   string
}

// String formats the event on one line.
func (e Event) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%d %v %s", e.Seq, e.At, e.What)
	if e.Msg != "" {
		fmt.Fprintf(&b, " msg=%s", e.Msg)
	}
	if e.Key != "" {
		fmt.Fprintf(&b, " key=%s", e.Key)
	}
	if e.Del != 0 {
		fmt.Fprintf(&b, " del=%d", e.Del)
	}
	if e.Stream != 0 {
		fmt.Fprintf(&b, " stream=%d", e.Stream)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, " err=%q", e.Err.Error())
	}
	if e.Note != "" {
		fmt.Fprintf(&b, " %s", e.Note)
	}
	return b.String()
}

// Trace is the ordered record of a run, shared by the simulator and the
// test. It is safe for concurrent use.
type Trace struct {
	start time.Time

	mu     sync.Mutex
	events []Event
}

// NewTrace starts a trace whose times count from now.
func NewTrace() *Trace { return &Trace{start: time.Now()} }

// Add appends e (its Seq and At are set) and returns its Seq.
func (t *Trace) Add(e Event) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	e.Seq = len(t.events) + 1
	e.At = time.Since(t.start)
	t.events = append(t.events, e)
	return e.Seq
}

// Since returns the time since the trace started.
func (t *Trace) Since() time.Duration { return time.Since(t.start) }

// Events returns a copy of the events so far.
func (t *Trace) Events() []Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Event(nil), t.events...)
}

// Violations returns the Violation events.
func (t *Trace) Violations() []Event {
	var v []Event
	for _, e := range t.Events() {
		if e.What == Violation {
			v = append(v, e)
		}
	}
	return v
}

// Format returns the events keep selects (all when keep is nil), one a
// line, at most max of them (the last ones; max <= 0: all).
func (t *Trace) Format(keep func(Event) bool, max int) string {
	var lines []string
	for _, e := range t.Events() {
		if keep == nil || keep(e) {
			lines = append(lines, e.String())
		}
	}
	skipped := 0
	if max > 0 && len(lines) > max {
		skipped = len(lines) - max
		lines = lines[skipped:]
	}
	var b strings.Builder
	if skipped > 0 {
		fmt.Fprintf(&b, "(%d earlier events left out)\n", skipped)
	}
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}
