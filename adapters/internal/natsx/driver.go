package natsx

import (
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldkit/herald/adapters"
)

// Options configure what NewTopic and NewSubscription attach to the
// objects they return.
type Options struct {
	// Scheme names the backend in errors and logs ("nats", "embedded";
	// default "nats").
	Scheme string
	// OnClose runs after the connection is closed (once).
	OnClose func()
	// As answers escape-hatch requests the natsx objects do not know.
	As func(target any) bool
	// Logger receives what the topic and subscription report on their
	// own, at debug and info level (adapters.Env.Logger; nil:
	// slog.Default()).
	Logger *slog.Logger
}

func (o *Options) defaults() {
	if o.Scheme == "" {
		o.Scheme = "nats"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Capabilities is what the JetStream engine does with set: durable
// groups (file storage), broker redelivery with a native nack delay
// (NakWithDelay), the broker's delivery count (NumDelivered), publish
// order from one stream shared by a group, delayed delivery with message
// schedules (DelayCapabilities). maxMessageSize is the
// server's max_payload (0 when unknown); singleProcess is true for the
// embedded server.
func Capabilities(set Settings, maxMessageSize int, singleProcess bool) adapters.Capabilities {
	return adapters.Capabilities{
		Durable:        set.Storage == jetstream.FileStorage,
		Groups:         true,
		Redelivery:     adapters.RedeliverBroker,
		NackDelay:      true,
		CountsAttempts: true,
		Order:          adapters.OrderQueue,
		MaxMessageSize: maxMessageSize,
		DefaultWindow:  DefaultWindow,
		SingleProcess:  singleProcess,
		Delay:          DelayCapabilities(set),
		Request:        adapters.RequestCaps{Path: adapters.RequestInbox},
		Timestamps:     true,
	}
}
