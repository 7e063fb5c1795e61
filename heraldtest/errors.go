package heraldtest

import "github.com/heraldkit/herald"

// Scheme is the URL scheme the package registers: Harness.URL is
// "heraldtest://<harness>".
const Scheme = "heraldtest"

// Operation names used in errors.
const (
	opPublish   = "publish to"
	opSubscribe = "subscribe to"
	opPrepare   = "prepare"
	opRequest   = "request to"
	opReply     = "reply to"
)

// opError is a *herald.Error of kind k about topic.
func opError(op, topic string, k herald.Kind, cause error) error {
	return &herald.Error{Backend: Scheme, Op: op, Topic: topic, Kind: k, Err: cause}
}
