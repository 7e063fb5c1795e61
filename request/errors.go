package request

import (
	"errors"

	"github.com/heraldkit/herald"
)

var (
	// ErrTimeout is wrapped when no reply came before the request's
	// deadline (its context's, or the client's timeout). The error also
	// matches context.DeadlineExceeded.
	ErrTimeout = errors.New("herald: request timed out: no reply before the deadline")
	// ErrNoResponder is wrapped when the backend told at once that nobody
	// subscribes to the request's topic (adapters.RequestCaps.FailFast).
	ErrNoResponder = herald.ErrNoResponder
	// ErrRemote is matched by every *RemoteError.
	ErrRemote = errors.New("herald: the responder returned an error")
)

// RemoteError is the error a responder returned, as its reply carried it
// (ErrorHeader): the responder's message, not its type.
type RemoteError struct {
	Topic   string // the request's topic
	Message string // the responder's error text
}

// Error formats as `herald: request to "<topic>": responder: <message>`.
func (e *RemoteError) Error() string {
	return "herald: request to " + quote(e.Topic) + ": responder: " + e.Message
}

// Is reports whether target is ErrRemote.
func (e *RemoteError) Is(target error) bool { return target == ErrRemote }

func quote(s string) string { return `"` + s + `"` }
