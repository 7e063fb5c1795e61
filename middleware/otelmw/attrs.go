package otelmw

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/middleware"
)

// ScopeName is the instrumentation scope of Herald's tracer and meter.
const ScopeName = "github.com/heraldkit/herald/middleware/otelmw"

// backendKey is the Herald backend (the URL scheme).
var backendKey = attribute.Key("herald.backend")

// system maps a backend scheme to messaging.system.
func system(scheme string) attribute.KeyValue {
	switch scheme {
	case "kafka":
		return semconv.MessagingSystemKafka
	case "amqp", "amqps":
		return semconv.MessagingSystemRabbitMQ
	case "nats", "embedded":
		return semconv.MessagingSystemKey.String("nats")
	case "mem":
		return semconv.MessagingSystemKey.String("memory")
	case "":
		return semconv.MessagingSystemKey.String("unknown")
	}
	return semconv.MessagingSystemKey.String(scheme)
}

// errorType classifies err, with few values, for error.type: see the
// package documentation.
func errorType(err error) string {
	var pe *herald.PanicError
	switch {
	case errors.Is(err, middleware.ErrDeadLetterFailed), errors.Is(err, middleware.ErrDeadLetterNotConfigured):
		return "dead_letter_failed"
	case errors.Is(err, middleware.ErrDuplicateInFlight):
		return "duplicate_in_flight"
	case errors.As(err, &pe):
		return "panic"
	case herald.IsPermanent(err):
		return "permanent"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return "_OTHER"
}
