package request

import (
	"time"

	"github.com/heraldkit/herald"
)

const (
	// DeadlineHeader is a request's deadline (RFC 3339 with nanoseconds,
	// UTC): the responder drops a request that arrives after it and
	// bounds its work by it. It compares with its own clock.
	DeadlineHeader = "herald-deadline"
	// ErrorHeader, on a reply, is the responder's error text; the reply's
	// payload is then empty.
	ErrorHeader = "herald-reply-error"
)

// setDeadline writes d on m.
func setDeadline(m *herald.Message, d time.Time) {
	m.Metadata.Set(DeadlineHeader, d.UTC().Format(time.RFC3339Nano))
}

// deadlineOf reads m's deadline; ok is false when it has none or it does
// not parse.
func deadlineOf(m *herald.Message) (time.Time, bool) {
	v := m.Metadata.Get(DeadlineHeader)
	if v == "" {
		return time.Time{}, false
	}
	d, err := time.Parse(time.RFC3339Nano, v)
	return d, err == nil
}
