package subscriber

import (
	"errors"
	"strings"
	"testing"

	"github.com/heraldkit/herald"
)

// TestLostWrapsOnce: a driver's status error that already wraps
// ErrSubscriptionLost is not wrapped again ("subscription lost: ...
// subscription lost: ..." in the hook and Health).
func TestLostWrapsOnce(t *testing.T) {
	cause := errors.New("connection refused")
	driverErr := &herald.Error{Backend: "nats", Op: "subscribe to", Topic: "t", Kind: herald.KindUnreachable,
		Err: errors.Join(herald.ErrSubscriptionLost, cause)}
	for _, c := range []struct {
		detail string
		cause  error
	}{{"", cause}, {"", driverErr}, {": not recovered within 2s", cause}, {": not recovered within 2s", driverErr}, {" for 3s", driverErr}} {
		err := lost(c.detail, c.cause)
		if !errors.Is(err, herald.ErrSubscriptionLost) || !errors.Is(err, cause) && !errors.Is(err, driverErr) {
			t.Errorf("lost(%q, %v) = %v: does not wrap ErrSubscriptionLost and the cause", c.detail, c.cause, err)
		}
		if n := strings.Count(err.Error(), "subscription lost"); n != 1 {
			t.Errorf("lost(%q, %v) = %q: says subscription lost %d times", c.detail, c.cause, err, n)
		}
		if d := strings.TrimPrefix(strings.TrimPrefix(c.detail, ": "), " "); !strings.Contains(err.Error(), d) {
			t.Errorf("lost(%q, %v) = %q: the detail is missing", c.detail, c.cause, err)
		}
	}
}
