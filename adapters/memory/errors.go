package memory

import (
	"fmt"

	"github.com/heraldkit/herald"
)

// Scheme is the URL scheme this package registers.
const Scheme = "mem"

// Operation names used in errors.
const (
	opPublish   = "publish to"
	opSubscribe = "subscribe to"
	opPrepare   = "prepare"
)

// opError formats an error in the adapters' style,
// herald/mem: <op> "<topic>": <cause>.
func opError(op, topic string, cause error) error {
	return fmt.Errorf("herald/%s: %s %q: %w", Scheme, op, topic, cause)
}

func closedError(op, topic string) error { return opError(op, topic, herald.ErrClosed) }
