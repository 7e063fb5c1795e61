package rabbitmq

import (
	"errors"
	"fmt"

	"github.com/heraldkit/herald"
)

var (
	errClosed       = fmt.Errorf("rabbitmq: %w", herald.ErrClosed)
	errNotConnected = errors.New("not connected to the broker (reconnecting)")
)

// connectError wraps a failure to connect. It names the host and vhost,
// never the credentials: the URI given to the client carries none.
func connectError(s *settings, err error) error {
	return fmt.Errorf("rabbitmq: connect to %s (vhost %q): %w", s.host, s.vhost, err)
}
