package natsx

import (
	"fmt"

	"github.com/heraldkit/herald"
)

// opError formats an error in the adapters' style,
// herald/<scheme>: <op> "<topic>": <cause>, wrapping cause.
func opError(scheme, op, topic string, cause error) error {
	return fmt.Errorf("herald/%s: %s %q: %w", scheme, op, topic, cause)
}

// closedError is the error of an operation on topic after Close.
func closedError(scheme, op, topic string) error {
	return opError(scheme, op, topic, herald.ErrClosed)
}

// Operation names used in errors.
const (
	opPublish   = "publish to"
	opSubscribe = "subscribe to"
	opPrepare   = "prepare"
)
