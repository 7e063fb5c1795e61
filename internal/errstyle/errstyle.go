// Package errstyle formats errors in Herald's one style:
//
//	herald/<scheme>: <op> "<topic>": <cause>
//
// Adapters produce errors in that style themselves; the publisher and
// subscriber packages pass those through unchanged and wrap only the
// errors that do not carry it yet (from a third-party adapter or from
// Watermill), so no message says its backend twice.
package errstyle

import (
	"fmt"
	"strings"
)

// Wrap returns err unchanged when it already starts with "herald/", and
// otherwise wraps it as `herald/<scheme>: <op> "<topic>": err` (without the
// topic part when topic is ""). Wrap(nil, ...) is nil.
func Wrap(err error, scheme, op, topic string) error {
	if err == nil {
		return nil
	}
	if strings.HasPrefix(err.Error(), "herald/") {
		return err
	}
	return Errorf(scheme, op, topic, err)
}

// Errorf wraps err as `herald/<scheme>: <op> "<topic>": err`.
func Errorf(scheme, op, topic string, err error) error {
	if topic == "" {
		return fmt.Errorf("herald/%s: %s: %w", scheme, op, err)
	}
	return fmt.Errorf("herald/%s: %s %q: %w", scheme, op, topic, err)
}
